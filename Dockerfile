# chatd in a container: a static binary (the embedded store is pure Go, so
# CGO_ENABLED=0) on a small base, run as a non-root user, data in a volume.
#   docker build -t chatd --build-arg VERSION=$(git describe --tags --always) .
#   docker run -p 9000:9000 -p 9001:9001 -v chatd-data:/var/lib/chatd chatd
# See README.md, "Docker".

FROM golang:1.26-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/chatd ./cmd/chatd

# Alpine rather than an empty image: the health check needs wget.
FROM alpine:3.22
RUN addgroup -S -g 10001 chatd && adduser -S -D -H -u 10001 -G chatd chatd \
 && mkdir -p /var/lib/chatd && chown chatd:chatd /var/lib/chatd && chmod 0700 /var/lib/chatd
COPY --from=build /out/chatd /usr/local/bin/chatd
USER chatd:chatd
# Uploaded files, the file token key and (without CHATD_MYSQL_DSN) the
# embedded store. The admin listener stays on the container's loopback:
# set CHATD_ADMIN_ADDR=:9090 (and publish it only to your Prometheus) to
# scrape /metrics from outside.
ENV CHATD_DATA_DIR=/var/lib/chatd \
    CHATD_LOG_FORMAT=json
VOLUME ["/var/lib/chatd"]
# chat, files, LAN discovery (discovery is of little use behind NAT).
EXPOSE 9000/tcp 9001/tcp 9002/udp
# /readyz answers 200 only while chatd serves and its store answers.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD wget -q -O /dev/null http://127.0.0.1:9090/readyz || exit 1
# SIGTERM drains within --shutdown-timeout (15s); give docker stop -t 25.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chatd"]
CMD ["serve"]
