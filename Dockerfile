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
ENV NODE_ENV=production \
    JOTTADAV_HOME=/config \
    XDG_CONFIG_HOME=/config
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/lib ./dist/lib
COPY config ./config
RUN mkdir -p /config /spool /data && chown -R node:node /config /spool /data
USER node
VOLUME ["/config", "/spool", "/data"]
EXPOSE 8080
ENTRYPOINT ["node", "/app/dist/lib/cli.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
