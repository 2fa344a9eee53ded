# A `settle worker` process: one or more task queues of the Settle services against any Temporal cluster.
#   docker build -t settle-worker .
#   docker run --rm -e TEMPORAL_ADDRESS=temporal:7233 -e DATABASE_URL=postgres://... -p 9464:9464 \
#     settle-worker --queues settle-payments
# Configuration is the environment (docs/deploy.md): TEMPORAL_* (envconfig), DATABASE_URL or SETTLE_DB_<SERVICE>_URL,
# SETTLE_TCC_URL, SETTLE_ENCRYPTION_KEY, OTEL_EXPORTER_OTLP_ENDPOINT. SIGTERM drains (give a stop grace > 30s).
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production SETTLE_METRICS_PORT=9464

# Dependencies first, so a source change does not reinstall them. tsx (a dev dependency) runs the TypeScript.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=warn

COPY bin ./bin
COPY shared ./shared
COPY services ./services
COPY activities ./activities
COPY workflows ./workflows
COPY client ./client
COPY workers ./workers
COPY scripts ./scripts
COPY tsconfig.json ./

# The worker needs no Temporal binaries or browser; it runs as an unprivileged user.
USER node
EXPOSE 9464
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/settle.js", "worker", "--metrics-host", "0.0.0.0"]
CMD ["--all"]
