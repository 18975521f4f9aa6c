# Vangnet gateway: multi-stage build, slim runtime with libsodium, non-root user.
#   docker build -t vangnet .
#   docker run -v /etc/vangnet:/etc/vangnet:ro -v vangnet-data:/var/lib/vangnet -p 8443:8443 vangnet
# The configuration's paths (certificates, keys, database) must point into the mounted volumes;
# key files must be owned by uid 10001 with mode 0600.
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libsodium-dev libsqlite3-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product vangnet --static-swift-stdlib \
 && cp "$(swift build -c release --show-bin-path)/vangnet" /usr/local/bin/vangnet

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libsodium23 libsqlite3-0 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/vangnet --create-home vangnet
COPY --from=build /usr/local/bin/vangnet /usr/local/bin/vangnet
USER vangnet
WORKDIR /var/lib/vangnet
EXPOSE 8443
# The gateway speaks only mTLS: the health check proves the process is up and accepting TCP.
HEALTHCHECK --interval=30s --timeout=3s CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8443' || exit 1
ENTRYPOINT ["/usr/local/bin/vangnet"]
CMD ["serve", "--config", "/etc/vangnet/vangnet.json"]
