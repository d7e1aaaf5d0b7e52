# syntax=docker/dockerfile:1.7
# The aepred TypeScript service (ingest, actors, supervisors, API). Build from the repository root:
#   docker build -f deploy/docker/service.Dockerfile -t aepred-service:0.1.0 .
# Bases are pinned to an exact version; a release pipeline that can reach the registry should also
# pin the digest (docs/deployment.md, "Images").
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node ships its CPU binaries in the npm package; skip the optional CUDA download.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    AEPRED_ROOT=/app \
    AEPRED_LOCAL_DIR=/var/lib/aepred \
    AEPRED_PARAMS=/app/params.yaml \
    AEPRED_CONTRACTS_DIR=/app/contracts
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json params.yaml ./
COPY bin ./bin
COPY contracts ./contracts
COPY ops/local/stack.yaml ./ops/local/stack.yaml
# The image's `node` user (uid 1000) owns only the writable state folder; the code stays root-owned.
RUN mkdir -p /var/lib/aepred && chown node:node /var/lib/aepred
USER 1000:1000
EXPOSE 58080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:58080/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/aepred.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "58080", "--insecure-http"]
