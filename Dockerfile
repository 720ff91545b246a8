# syntax=docker/dockerfile:1
# lastcall — multi-stage image. Build: `make image` (docker build -t lastcall:dev .).
#
# Runtime contract (see helm/lastcall): runs as uid 1000 with a read-only root filesystem;
# the only writable paths are /tmp and DATA_DIR (embedded PGlite), both mounted by the chart.

ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node's install script would download GPU binaries; the CPU build is in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Dependencies first (cached while only sources change). The embedding model is a local
# `file:` dependency, so its folder must be present before `npm ci`.
COPY package.json package-lock.json ./
COPY models/lastcall-mini-embed/ ./models/lastcall-mini-embed/
RUN --mount=type=cache,target=/root/.npm \
    ONNXRUNTIME_NODE_INSTALL=skip npm ci

COPY tsconfig.json tsconfig.build.json ./
COPY src/ ./src/
# The AI SDK page's bundle (dist/ai-sdk/page-app.js): esbuild and React are devDependencies, here only.
COPY scripts/build-ai-sdk-page.mjs ./scripts/
# onnxruntime-node ships macOS and Windows binaries too (~220 MB) that a Linux image never loads.
RUN npm run build \
 && npm prune --omit=dev \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app

# MALLOC_*: glibc keeps fewer malloc arenas and trims eagerly, so the memory freed when the
# embedding model is disposed (drain phase `release`) is returned to the OS.
# DATA_DIR: embedded PGlite lives here when DATABASE_URL is unset (the chart mounts an
# emptyDir there). HOME=/tmp: anything that wants a home directory writes to tmp, never to the
# read-only root.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    DATA_DIR=/var/lib/lastcall \
    HOME=/tmp \
    PORT=8080 \
    ADMIN_PORT=9090

# Application files are owned by root and read-only for the runtime user. The model package
# keeps its path under /app: node_modules/@lastcall/embedding-model is a symlink to it (npm's
# install of a `file:` dependency).
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/models/lastcall-mini-embed ./models/lastcall-mini-embed
COPY --from=build /app/dist ./dist
RUN mkdir -p /var/lib/lastcall && chown 1000:1000 /var/lib/lastcall

# The image's `node` user (uid/gid 1000), numeric so runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080 9090

# No HEALTHCHECK: Kubernetes probes /livez, /readyz and /startupz on the admin port (9090).
#
# Exec form, no shell and no init: node is PID 1 and receives the kubelet's SIGTERM directly.
# The app installs its own SIGTERM/SIGINT handlers (the drain sequence; as PID 1 the kernel
# would otherwise ignore SIGTERM) and spawns no child processes, so there are no zombies to
# reap and no signals to forward: tini/dumb-init would add nothing; a shell wrapper or
# `npm start` would swallow SIGTERM and turn every drain into a SIGKILL at the grace period.
CMD ["node", "dist/main.js"]
