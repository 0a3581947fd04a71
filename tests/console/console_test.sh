#!/usr/bin/env bash
# The release console in headless Chromium against a real stratad while a
# simulated fleet runs (docs/console.md, "How it is tested"):
#  - a grey release promoted by its gates shows the change without a reload;
#  - a viewer token cannot steer (the page shows PERMISSION_DENIED, no
#    audit entry appears, the release keeps rolling);
#  - a halt clicked and confirmed in the page is in the audit log, in the
#    page and through `strata audit`;
#  - the failure signature of a page that crashes on android 13 is listed
#    on the Failures page and its detail shows its count (viewer token).
# Writes screenshots of the main pages to $WORK/screenshots (docs/console/
# holds copies). Exits 77 (skipped) only when chromium is not installed.
#
# Usage: tests/console/console_test.sh BIN_DIR WORK_DIR
set -euo pipefail

BIN="$(cd "${1:?usage: console_test.sh BIN_DIR WORK_DIR}" && pwd)"
WORK="${2:?usage: console_test.sh BIN_DIR WORK_DIR}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SAMPLES="$ROOT/samples"
CHROMIUM="${STRATA_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "SKIPPED: $CHROMIUM is not installed (./strata.sh deps installs Debian's chromium)"
  exit 77
fi
command -v node >/dev/null || { echo "node is missing: ./strata.sh deps" >&2; exit 1; }
START=$(date +%s)
rm -rf "$WORK/server" "$WORK/keys" "$WORK/fleet" "$WORK/screenshots" \
  "$WORK/checkout-v1"
mkdir -p "$WORK/screenshots"

# puppeteer-core, pinned in package-lock.json, into the build tree.
NPM_DIR="$WORK/npm"
if ! cmp -s "$HERE/package-lock.json" "$NPM_DIR/package-lock.json" ||
  [ ! -d "$NPM_DIR/node_modules/puppeteer-core" ]; then
  rm -rf "$NPM_DIR"
  mkdir -p "$NPM_DIR"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NPM_DIR/"
  (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error) ||
    { echo "npm ci for puppeteer-core failed (is the npm registry reachable?)" >&2; exit 1; }
fi

SERVER_PID=""
FLEET_PID=""
NODE_PID=""
cleanup() {
  for pid in $NODE_PID $FLEET_PID $SERVER_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT
fail() { echo "console test FAILED: $*" >&2; exit 1; }

"$BIN/stratad" init --data-dir "$WORK/server" >/dev/null
"$BIN/stratad" --data-dir "$WORK/server" --listen 127.0.0.1:0 \
  --http 127.0.0.1:0 --port-file "$WORK/port" --gate-interval 1 \
  >"$WORK/stratad.log" 2>&1 &
SERVER_PID=$!
rm -f "$WORK/port"
for _ in $(seq 1 1200); do
  [ -s "$WORK/port" ] && [ "$(wc -l <"$WORK/port")" -ge 2 ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stratad.log" >&2; exit 1; }
  sleep 0.05
done
export STRATA_SERVER="127.0.0.1:$(sed -n 1p "$WORK/port")"
HTTP="http://127.0.0.1:$(sed -n 2p "$WORK/port")"
export STRATA_TOKEN_FILE="$WORK/server/admin.token"
strata() { "$BIN/strata" --plaintext "$@"; }
release_id() { sed -n 's/.*"release_id": *"\{0,1\}\([0-9][0-9]*\).*/\1/p' | head -1; }

strata keys gen --dir "$WORK/keys" >/dev/null
strata trust init --keys "$WORK/keys" --app wallet >/dev/null
KEYS=(--key "$WORK/keys/publisher-a.key" --key "$WORK/keys/publisher-b.key")
strata publish --app wallet --layer h5 --module mall-home --version 1 \
  --dir "$SAMPLES/h5/mall-home-v1" "${KEYS[@]}" >/dev/null
strata publish --app wallet --layer hcf --module cart --version 1 \
  --file "$SAMPLES/hcf/cart.v1.js" "${KEYS[@]}" >/dev/null
# A page that crashes on android 13 (strata-fleet's strata-demo-crash, as
# in tools/demo.sh): devices 1, 5, 9 and 13 report a failure signature
# every round, for the Failures page.
mkdir -p "$WORK/checkout-v1"
printf '<!doctype html><title>Checkout</title>\n' >"$WORK/checkout-v1/index.html"
printf 'android 13\n' >"$WORK/checkout-v1/strata-demo-crash"
strata publish --app wallet --layer h5 --module checkout --version 1 \
  --dir "$WORK/checkout-v1" "${KEYS[@]}" >/dev/null
strata release create --app wallet --all-at-once --artifact h5/mall-home@1 \
  --artifact hcf/cart@1 --artifact h5/checkout@1 >/dev/null
FLEET=("$BIN/strata-fleet" --server "$STRATA_SERVER" --app wallet --devices 16
  --dir "$WORK/fleet" --app-version 10.3.0 --host-build 10.3.0+100
  --threads 4 --root "$WORK/keys/root.json" --plaintext)
"${FLEET[@]}" --rounds 2 --interval-ms 0 >"$WORK/fleet-1.log" 2>&1 ||
  fail "the baseline fleet run failed: $(tail -3 "$WORK/fleet-1.log")"
grep -qE '^round [0-9]+ failures: [1-9]' "$WORK/fleet-1.log" ||
  fail "no device reported the checkout page's crash: $(tail -3 "$WORK/fleet-1.log")"
strata failures list --app wallet --output json | grep -q '"signature_id"' ||
  fail "stratad shows no failure signature after the baseline run"
strata publish --app wallet --layer h5 --module mall-home --version 2 \
  --dir "$SAMPLES/h5/mall-home-v2" "${KEYS[@]}" >/dev/null
strata publish --app wallet --layer hcf --module cart --version 2 \
  --file "$SAMPLES/hcf/cart.v2.js" "${KEYS[@]}" >/dev/null
VIEWER=$(strata token create console-viewer --role viewer --app '*' 2>/dev/null)
MANAGER=$(strata token create console-rm --role release_manager --app wallet 2>/dev/null)
# Promoted by its gates while the fleet runs.
PROMOTED=$(strata release create --app wallet --artifact h5/mall-home@2 \
  --plan "50%:2s:3,100%:2s:3" --gate min_launches=3 --message "Mall 2.0" \
  --output json | release_id)
# Held at its first stage for an hour: the one steered from the page.
STEERED=$(strata release create --app wallet --artifact hcf/cart@2 \
  --plan "25%:1h:3,100%" --message "cart 2" --output json | release_id)
[ -n "$PROMOTED" ] && [ -n "$STEERED" ] || fail "releases were not created"

# The browser first sees the promoted release at its first stage, then
# (its ready file written) the fleet starts and the gates can promote.
rm -f "$WORK/ready"
node "$HERE/console_test.mjs" --url "$HTTP/console/" --chromium "$CHROMIUM" \
  --modules "$NPM_DIR/node_modules" --app wallet --viewer "$VIEWER" \
  --manager "$MANAGER" --admin "$(head -1 "$STRATA_TOKEN_FILE")" \
  --promoted "$PROMOTED" --steered "$STEERED" --device device-0001 \
  --shots "$WORK/screenshots" --ready "$WORK/ready" &
NODE_PID=$!
for _ in $(seq 1 2400); do
  [ -f "$WORK/ready" ] && break
  kill -0 "$NODE_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -f "$WORK/ready" ]; then
  "${FLEET[@]}" --rounds 1000 --interval-ms 500 >"$WORK/fleet-2.log" 2>&1 &
  FLEET_PID=$!
fi
set +e
wait "$NODE_PID"
RC=$?
NODE_PID=""
set -e
[ "$RC" -eq 0 ] || fail "the browser checks failed (exit $RC); stratad log: $WORK/stratad.log"

# The halt from the page, through the CLI's own audit reading (which
# verifies the chain itself).
strata audit verify >/dev/null || fail "strata audit verify failed"
AUDIT=$(strata audit list)
grep "release_id=$STEERED " <<<"$AUDIT" | grep -qi halt ||
  fail "strata audit does not show the halt of release $STEERED: $(tail -5 <<<"$AUDIT")"
grep -q "console-rm" <<<"$(grep -i halt <<<"$AUDIT")" ||
  fail "the halt is not attributed to the release manager's token"
if grep -i "console-viewer" <<<"$AUDIT" | grep -qi "steer"; then
  fail "the viewer's refused steer left an audit entry"
fi
strata release status "$STEERED" --app wallet --output json | grep -q RELEASE_HALTED ||
  fail "release $STEERED is not halted"
# The per-device figures the page showed, through the CLI: the promoted
# release's treatment devices launched it and reported their downloads.
DEVICES=$(strata release devices "$PROMOTED" --app wallet)
grep -Eq "treatment: [1-9][0-9]* devices, [1-9][0-9]* launches" <<<"$DEVICES" ||
  fail "strata release devices shows no treatment launches: $DEVICES"
grep -q "downloaded by [1-9][0-9]* treatment devices: median" <<<"$DEVICES" ||
  fail "strata release devices shows no download sizes: $DEVICES"
strata release devices "$PROMOTED" --app wallet --output json |
  grep -q '"download_bytes_p50"' || fail "release devices --output json lacks download_bytes_p50"
echo "strata release devices: $(grep treatment: <<<"$DEVICES")"
echo "strata audit: $(grep -i halt <<<"$AUDIT" | tail -1)"
echo "console test passed in $(( $(date +%s) - START )) s"
