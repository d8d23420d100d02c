# lbdiag in a container: `lbdiag whoami` as a backend by default, any subcommand via the arguments.
#
#   docker build -t registry.example.com/lbdiag:0.1.0 .
#   docker run --rm -p 18088:18088 registry.example.com/lbdiag:0.1.0                  # whoami on :18088
#   docker run --rm registry.example.com/lbdiag:0.1.0 probe 10.0.0.10:80 -n 300      # any subcommand
#
# Two stages: the first compiles TypeScript and packs the package exactly as `npm pack` does for the
# registry, then installs only its production dependencies from package-lock.json; the second holds
# that and nothing else (no TypeScript, no tests, no sources), runs as the unprivileged `node` user
# (uid 1000) under tini, so SIGTERM reaches lbdiag (whoami drains) and zombies are reaped.

FROM node:20-slim AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /pkg \
 && tar -xzf /tmp/lbdiag-*.tgz -C /pkg --strip-components=1 \
 && cp package-lock.json /pkg/ \
 && cd /pkg \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm package-lock.json

FROM node:20-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /pkg /opt/lbdiag
RUN ln -s /opt/lbdiag/bin/lbdiag.js /usr/local/bin/lbdiag
ENV NODE_ENV=production
USER node
EXPOSE 18088
ENTRYPOINT ["/usr/bin/tini", "--", "lbdiag"]
CMD ["whoami", "--port=18088"]
