# Tollgate: multi-stage image. Build: docker build -t tollgate .
# Run (embedded SQLite, data in a volume):
#   docker run -p 3000:3000 -v tollgate-data:/app/data tollgate
# The scaled shape (two processes, nginx, PostgreSQL, Redis): docker-compose.yml.
# Not built or run anywhere yet: there is no container runtime on the project's machines.

# ---- build: all dependencies, compile the server/CLI (dist/) and the web console (web/dist) ----
FROM node:24-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY web/package.json web/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- production dependencies only (native modules built for this Node) ----
FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY web/package.json web/
RUN npm ci --omit=dev --no-audit --no-fund --workspaces=false

# ---- runtime: Node, production node_modules, the compiled server and console; no compilers ----
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    DATABASE_URL=sqlite:/app/data/tollgate.db \
    TOLLGATE_DATA_DIR=/app/data
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /app/data && chown node:node /app/data
COPY --from=deps /app/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/web/dist web/dist
COPY package.json ./
COPY bin bin
USER node
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini as PID 1 forwards SIGTERM to Node (exec form, no shell in between), which then finishes
# the calls in flight and settles them before exiting (up to 30 s: give `docker stop -t 40`).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/tollgate.mjs", "start"]
