# One image for every keylease command: coordinator, agent, webhook (and dev's message that it needs a
# full checkout). It holds compiled JavaScript and production dependencies only: no TypeScript, no tsx.
# glibc base: the native BLS binding ships as a glibc prebuilt in an optional npm package.
# Pin the base by digest in release builds (node:20-bookworm-slim@sha256:…).
#
# The bases are build arguments so that a machine without Docker Hub can build on its own (`npm run
# image:build` passes a Debian minbase + Node 20 image made by scripts/image/base.sh): NODE_IMAGE is the
# runtime's base, NODE_BUILD_IMAGE the build stages' (it needs npm; the runtime does not).
ARG NODE_IMAGE=node:20-bookworm-slim
ARG NODE_BUILD_IMAGE=node:20-bookworm-slim

# Compiles the TypeScript (every dependency: the compiler needs the packages' types).
FROM ${NODE_BUILD_IMAGE} AS build
# npm reads these from the environment when they are given (--build-arg NPM_CONFIG_REGISTRY=…, and a CA
# file mounted into the build where the registry is reached through a TLS-inspecting proxy); unset,
# npm's defaults apply. Only the build stages see them: the runtime image carries neither.
ARG NPM_CONFIG_REGISTRY
ARG NPM_CONFIG_CAFILE
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/
COPY shared ./shared
COPY coordinator ./coordinator
COPY agent ./agent
COPY cli ./cli
RUN npm run build

# Production dependencies only, exactly as locked; optional ones stay (the BLS platform binary is one).
# TypeScript files (declarations, and sources some packages ship) and source maps go: Node never loads them.
FROM ${NODE_BUILD_IMAGE} AS deps
ARG NPM_CONFIG_REGISTRY
ARG NPM_CONFIG_CAFILE
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/image/prune-node-modules.sh ./
RUN npm ci --omit=dev --no-audit --no-fund && sh prune-node-modules.sh node_modules

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# Non-root and numeric (so the kubelet can verify runAsNonRoot). Nothing under /app is written at run
# time, so the root filesystem can be read-only.
USER 10001:10001
# Exec form: node is PID 1 and receives SIGTERM itself (every command handles it: the coordinator hands
# leadership over, the agent hands its keys back). No HEALTHCHECK: Kubernetes ignores it and probes
# /healthz and /readyz instead.
ENTRYPOINT ["node", "/app/bin/keylease.js"]
CMD ["--help"]
