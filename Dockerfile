# campuslink collector image (and, as target "sim", the self-contained demo).
#   docker build -t campuslink-collector .          # collector
#   docker build --target sim -t campuslink-sim .   # demo with simulated gateways
# Configuration only through CAMPUSLINK_* environment variables and a mounted config file.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY protocol ./protocol
COPY agent ./agent
COPY collector ./collector
COPY sim ./sim
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:20-slim AS collector
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY dashboards ./dashboards
COPY config ./config
# HAProxy for `front.kind: haproxy` (CAMPUSLINK_FRONT_KIND=haproxy): a province's agent sessions (docs/deployment.md).
RUN apt-get update && apt-get install -y --no-install-recommends haproxy && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /var/lib/campuslink && chown node:node /var/lib/campuslink
USER node
ENV CAMPUSLINK_LISTEN=0.0.0.0:8470 \
    CAMPUSLINK_STATE_DIR=/var/lib/campuslink
EXPOSE 8470
VOLUME ["/var/lib/campuslink"]
# A 64 MiB semi-space: the garbage of every upload dies young (docs/deployment.md, "Node flags").
ENTRYPOINT ["node", "--max-semi-space-size=64", "dist/collector/cli.js"]
CMD ["serve"]

FROM collector AS sim
USER root
# The demo embeds InfluxDB 1.x (Debian's influxdb package) and pings loopback.
RUN apt-get update && apt-get install -y --no-install-recommends influxdb iputils-ping && rm -rf /var/lib/apt/lists/*
USER node
ENTRYPOINT ["node", "dist/scripts/demo.js", "--state-dir", "/tmp/campuslink-demo"]
CMD []

FROM collector
