# One image for every keylease command: coordinator, agent, dev.
# glibc base: the native BLS binding ships as a glibc prebuilt in an optional npm package.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; optional ones stay (the BLS platform binary is one).
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
# Non-root; nothing under /app is written at run time, so the root filesystem can be read-only.
USER 10001:10001
ENTRYPOINT ["node", "/app/bin/keylease.js"]
CMD ["--help"]
