#!/usr/bin/env bash
# Checks deploy/chatd.service with `systemd-analyze verify` against a freshly
# built chatd. Needs no running systemd (it only parses units), so it runs in
# CI containers; any warning fails it, since verify exits 0 on unknown keys.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/chatd" ./cmd/chatd
# verify checks that ExecStart's binary exists: point it at the build.
sed "s|^ExecStart=/usr/local/bin/chatd |ExecStart=$tmp/chatd |" deploy/chatd.service >"$tmp/chatd.service"
grep -q "^ExecStart=$tmp/chatd " "$tmp/chatd.service" || { echo "deploy/chatd.service: no ExecStart=/usr/local/bin/chatd line"; exit 1; }
if ! out="$(systemd-analyze verify --man=no --generators=no "$tmp/chatd.service" 2>&1)" || [ -n "$out" ]; then
  echo "deploy/chatd.service fails systemd-analyze verify:"
  echo "$out"
  exit 1
fi
echo "deploy/chatd.service: systemd-analyze verify clean"
