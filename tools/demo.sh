#!/usr/bin/env bash
# The end-to-end demo behind `./strata.sh demo`: a real stratad on an
# embedded RocksDB, the `strata` CLI publishing and releasing a CONFIG
# document, and a device on libstrata_client (strata-device) receiving it,
# storing it crash-safely and printing it. Leaves nothing running.
#
# Usage: tools/demo.sh BIN_DIR
set -euo pipefail

BIN="$(cd "${1:?usage: tools/demo.sh BIN_DIR}" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${STRATA_DEMO_DIR:-$ROOT/build/demo}"
rm -rf "$WORK"
mkdir -p "$WORK"

step() { printf '\n\033[1m--- %s\033[0m\n' "$*"; }

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

step "initializing the server's data directory (first admin token)"
"$BIN/stratad" init --data-dir "$WORK/server"
export STRATA_TOKEN_FILE="$WORK/server/admin.token"

step "starting stratad (data in $WORK/server)"
"$BIN/stratad" --data-dir "$WORK/server" --listen 127.0.0.1:0 \
  --http 127.0.0.1:0 --port-file "$WORK/port" >"$WORK/stratad.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  [ -s "$WORK/port" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stratad.log" >&2; exit 1; }
  sleep 0.05
done
export STRATA_SERVER="127.0.0.1:$(sed -n 1p "$WORK/port")"
HTTP="http://127.0.0.1:$(sed -n 2p "$WORK/port")"
"$BIN/strata" health --wait 10
echo "stratad is serving on $STRATA_SERVER"

step "release engineers make signing keys and install the root of trust"
"$BIN/strata" keys gen --dir "$WORK/keys"
"$BIN/strata" trust init --keys "$WORK/keys" --app wallet

step "an unsigned publish is refused before any byte is stored"
echo '{"evil": true}' >"$WORK/evil.json"
if "$BIN/strata" publish --app wallet --layer config --module payment.limits \
    --version 666 --file "$WORK/evil.json"; then
  echo "demo FAILED: an unsigned publish was accepted" >&2
  exit 1
fi

step "publishing CONFIG payment.limits version 1, signed by a publisher key"
cat >"$WORK/limits.json" <<'JSON'
{"daily_limit_cny": 5000, "single_payment_max_cny": 2000}
JSON
"$BIN/strata" publish --app wallet --layer config --module payment.limits \
  --version 1 --file "$WORK/limits.json" --key "$WORK/keys/publisher-a.key"

step "releasing it"
"$BIN/strata" release create --app wallet --layer config \
  --module payment.limits --version 1 --all-at-once
"$BIN/strata" release list --app wallet

step "a device checks, installs and reads the config"
OUT="$("$BIN/strata-device" --app wallet --device-id demo-device-1 \
  --app-version 10.3.0 --os android --storage-dir "$WORK/device-1" \
  --print-config payment.limits)"
echo "$OUT"

EXPECTED="config payment.limits = $(cat "$WORK/limits.json")"
if ! grep -qxF "$EXPECTED" <<<"$OUT"; then
  echo "demo FAILED: the device did not receive the published config" >&2
  exit 1
fi

step "the audit log records every change, hash-chained"
"$BIN/strata" audit list
"$BIN/strata" audit verify

step "the same blob over plain HTTP (for a CDN), and the metrics page"
SHA=$(sha256sum "$WORK/limits.json" | cut -d' ' -f1)
curl -sS -D "$WORK/headers" -o "$WORK/blob" "$HTTP/v1/blobs/$SHA"
grep -iE '^(HTTP|etag|cache-control)' "$WORK/headers"
cmp "$WORK/blob" "$WORK/limits.json"
curl -sS "$HTTP/metrics" | grep -E '^strata_(rpc_requests_total|publishes_total)' | head -5

step "stopping stratad"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
SERVER_PID=""

step "summary"
echo "published config/payment.limits v1, released it, and device demo-device-1"
echo "received it over gRPC and stored it crash-safely: demo OK"
