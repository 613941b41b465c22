# One image for every keylease command: coordinator, agent, webhook, dev.
# glibc base: the native BLS binding ships as a glibc prebuilt in an optional npm package.
# Pin the base by digest in release builds (node:20-bookworm-slim@sha256:…).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, exactly as locked; optional ones stay (the BLS platform binary is one).
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY cli ./cli
COPY shared ./shared
COPY coordinator ./coordinator
COPY agent ./agent
# Non-root and numeric (so the kubelet can verify runAsNonRoot). Nothing under /app is written at run
# time, so the root filesystem can be read-only; tsx keeps its compile cache in /tmp, which the
# Kubernetes manifests mount as an in-memory emptyDir.
USER 10001:10001
# Exec form: node is PID 1 and receives SIGTERM itself (every command handles it: the coordinator hands
# leadership over, the agent hands its keys back). No HEALTHCHECK: Kubernetes ignores it and probes
# /healthz and /readyz instead.
ENTRYPOINT ["node", "/app/bin/keylease.js"]
CMD ["--help"]
