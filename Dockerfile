# Kale in a container: a static, non-root binary on a distroless base.
#   docker build -t kale --build-arg VERSION=$(git describe --always --dirty) .
#   docker run --rm -p 1500:1500 -p 2024:2024 -p 2024:2024/udp -p 2025:2025/udp \
#     -p 2003:2003 -p 2003:2003/udp kale                         # kale all, embedded Redis
#   docker run --rm kale analyzer --redis redis://redis:6379/0     # one component
# The listeners and the webapp bind every interface in the image (the KALE_* variables
# below; a flag wins over them); /var/lib/kale holds the shape index.

# --- build: Go, plus Node.js/npm for the chart assets (make assets) -------------------------
FROM golang:1.26 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# make build = make assets (npm ci, pinned by webapp/ui/package-lock.json) + CGO_ENABLED=0 go build
RUN make build VERSION=$VERSION \
 && mkdir -p /out/var/lib/kale \
 && cp bin/kale /out/kale

# --- run: no shell, no package manager, uid 65532 ----------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kale /usr/local/bin/kale
COPY --from=build --chown=65532:65532 /out/var/lib/kale /var/lib/kale
WORKDIR /var/lib/kale
USER nonroot:nonroot
ENV KALE_WEBAPP=:1500 \
    KALE_PICKLE_TCP=:2024 \
    KALE_PICKLE_UDP=:2024 \
    KALE_MSGPACK_UDP=:2025 \
    KALE_PLAINTEXT_TCP=:2003 \
    KALE_PLAINTEXT_UDP=:2003 \
    KALE_OCULUS_INDEX=/var/lib/kale/oculus.bleve \
    KALE_LOG_FORMAT=json
VOLUME ["/var/lib/kale"]
# webapp; pickle TCP+UDP; msgpack UDP; Graphite plaintext TCP+UDP; --metrics-addr if set (9091 by convention)
EXPOSE 1500/tcp 2024/tcp 2024/udp 2025/udp 2003/tcp 2003/udp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kale"]
CMD ["all"]
