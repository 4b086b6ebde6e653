# jottadav: a WebDAV server for a Jottacloud account.
# Build:  docker build -t jottadav .
# Run:    see README ("Docker").

# --- build stage: compile TypeScript with the dev dependencies ---
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY lib ./lib
COPY spec ./spec
COPY scripts ./scripts
RUN npx tsc -p tsconfig.json

# --- runtime stage: production dependencies and the compiled code only ---
FROM node:20-bookworm-slim
# /config holds config.yaml, the token set (0600) and, without an account, the embedded emulator's data;
# /spool holds upload bodies being hashed before they go to Jottacloud.
ENV NODE_ENV=production \
    JOTTADAV_HOME=/config \
    XDG_CONFIG_HOME=/config \
    JOTTADAV_STORAGE__SPOOL_DIR=/spool
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/lib ./dist/lib
COPY config ./config
RUN mkdir -p /config /spool && chown -R node:node /config /spool && chmod 0700 /config /spool
USER node
VOLUME ["/config", "/spool"]
EXPOSE 8080
# Liveness from inside the container: /healthz on the operations port, which listens on 127.0.0.1 only
# (JOTTADAV_SERVER__METRICS_PORT moves it; keep the two in step). The image has no curl: Node's fetch asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.JOTTADAV_SERVER__METRICS_PORT||9180)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/lib/cli.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
