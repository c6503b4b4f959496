# syntax=docker/dockerfile:1
#
# Herd gateway image. Three stages:
#   build   - all dependencies (dev included), compiles TypeScript to dist/
#   deps    - production dependencies only
#   runtime - node:20-bookworm-slim with deps + dist/, running as the non-root `node` user
#
# The same image also runs the Ollama simulator (`node dist/sim/cli.js ...`), which is
# how the `sim` profile of docker-compose.yaml gets a GPU-free fleet.
#
# About the install commands: the lock lists bullmq's optional msgpackr-extract platform
# packages, which npm 11's `npm ci` requires (an older lock without them was refused).
# `npm install` on the same lock stays as the fallback for npms that still refuse it.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV CI=true \
    NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund
# Sources; .dockerignore keeps node_modules, dist, tests, k6, docs and .git out.
COPY . .
RUN npm run build

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV CI=true \
    NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json ./
RUN (npm ci --omit=dev --no-audit --no-fund || npm install --omit=dev --no-audit --no-fund) \
    && npm cache clean --force

# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    CONTAINERS_CONFIG=/app/containers.config.json \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Files stay owned by root (read-only for the app); the process runs as `node` (uid 1000).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# tsc does not copy the dashboard page; the app serves it from src/dashboard/public beside dist/.
COPY --from=build /app/src/dashboard/public ./src/dashboard/public
COPY package.json containers.config.json ./

USER node
EXPOSE 3000

# Node 20 has a global fetch, so no curl/wget is needed in the slim image.
# Services that reuse this image for something else (the simulator) override this in compose.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "dist/src/main.js"]
