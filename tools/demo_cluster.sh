#!/usr/bin/env bash
# `./strata.sh demo --cluster`: the demo's scenario on three stratad
# replicas that share one PostgreSQL (initdb in a temporary directory) and,
# when node is installed, one S3-compatible object store for blob chunks
# (s3rver from npm, pinned in tests/cluster/s3rver). Everything on loopback:
# the CLI writes through replica 0, two fleets of simulated devices check
# on replicas 1 and 2, a config change made on replica 0 is pushed to the
# streams held by 1 and 2, replica 1 is killed -9 and its devices carry on
# through replica 2, and a crashing hotpatch reported on replica 2 is
# halted by whichever replica leads the health gates.
#
# The app has a root of trust made through replica 0; every device pins
# it and verifies every update, whichever replica it talks to (the other
# replicas reload the signed files replica 0 and the signing replica
# store). Plaintext gRPC (all on loopback). Prints a summary; leaves
# nothing running.
#
# Usage: tools/demo_cluster.sh BIN_DIR
set -euo pipefail

BIN="$(cd "${1:?usage: tools/demo_cluster.sh BIN_DIR}" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAMPLES="$ROOT/samples"
WORK="${STRATA_DEMO_DIR:-$ROOT/build/demo-cluster}"
rm -rf "$WORK"
mkdir -p "$WORK"
START=$(date +%s)

step() { printf '\n\033[1m--- %s\033[0m\n' "$*"; }
fail() {
  echo "demo --cluster FAILED: $*" >&2
  exit 1
}

PIDS=()
PG_BIN=""
cleanup() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$PG_BIN" ] && [ -f "$WORK/pg/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: as root, its commands run as the
# "postgres" user Debian's package makes.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Waits (a hang guard of 2 minutes) until file $1 has line $2 (a regex)
# while process $3 runs.
wait_for_line() {
  for _ in $(seq 1 2400); do
    grep -sqE -- "$2" "$1" && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.05
  done
  grep -sqE -- "$2" "$1"
}

step "PostgreSQL in $WORK/pg (initdb; loopback only)"
for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
  if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then
    PG_BIN="/usr/lib/postgresql/$v/bin"
    break
  fi
done
[ -n "$PG_BIN" ] || fail "PostgreSQL is not installed (Debian: postgresql)"
mkdir -p "$WORK/pg"
[ "$(id -u)" -eq 0 ] && chown postgres "$WORK/pg"
as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -U strata --auth=trust -E UTF8 \
  --no-locale --no-sync >"$WORK/pg/initdb.log" 2>&1 ||
  fail "initdb failed: $(tail -5 "$WORK/pg/initdb.log")"
PG_PORT=""
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 30000))
  if as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w \
    -t 60 -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$WORK/pg -c max_connections=200" \
    start >/dev/null 2>&1; then
    PG_PORT=$port
    break
  fi
done
[ -n "$PG_PORT" ] || fail "PostgreSQL did not start: $(tail -5 "$WORK/pg/server.log")"
METADATA="postgresql://strata@127.0.0.1:$PG_PORT/postgres"
echo "PostgreSQL on 127.0.0.1:$PG_PORT; --metadata $METADATA"

BLOBS=()
if command -v node >/dev/null && command -v npm >/dev/null; then
  step "an S3-compatible object store for blob chunks (s3rver from npm, on loopback)"
  S3_PKG="$ROOT/build/tests/cluster/s3rver"
  if [ ! -f "$S3_PKG/node_modules/s3rver/bin/s3rver.js" ]; then
    mkdir -p "$S3_PKG"
    cp "$ROOT/tests/cluster/s3rver/package.json" \
      "$ROOT/tests/cluster/s3rver/package-lock.json" "$S3_PKG/"
    (cd "$S3_PKG" && npm ci --no-audit --no-fund >npm.log 2>&1) ||
      fail "npm ci of s3rver failed: $(tail -5 "$S3_PKG/npm.log")"
  fi
  mkdir -p "$WORK/s3"
  node "$S3_PKG/node_modules/s3rver/bin/s3rver.js" -d "$WORK/s3" \
    -a 127.0.0.1 -p 0 --silent --configure-bucket strata \
    >"$WORK/s3rver.log" 2>&1 &
  PIDS+=($!)
  wait_for_line "$WORK/s3rver.log" "listening on 127.0.0.1:[0-9]+" "${PIDS[-1]}" ||
    fail "s3rver did not start: $(cat "$WORK/s3rver.log")"
  S3_PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/s3rver.log")
  # s3rver's fixed credentials; a real store's come the same way.
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
  BLOBS=(--blobs "s3://strata/demo?endpoint=http://127.0.0.1:$S3_PORT")
  echo "s3rver on 127.0.0.1:$S3_PORT; ${BLOBS[*]}"
else
  echo "node is not installed: blob chunks stay in PostgreSQL"
fi

step "stratad init --metadata (once per cluster: the first admin token and the online keys every replica shares)"
"$BIN/stratad" init --data-dir "$WORK/init" --metadata "$METADATA" \
  --online-keys-dir "$WORK/online-keys"
export STRATA_TOKEN_FILE="$WORK/init/admin.token"

step "starting three replicas (health gates every second; one of them leads)"
ADDR=()
HTTP=()
REPLICA_PID=()
for i in 0 1 2; do
  mkdir -p "$WORK/replica$i"
  "$BIN/stratad" --data-dir "$WORK/replica$i" --metadata "$METADATA" \
    "${BLOBS[@]+"${BLOBS[@]}"}" --online-keys-dir "$WORK/online-keys" \
    --listen 127.0.0.1:0 --http 127.0.0.1:0 --port-file "$WORK/replica$i.port" \
    --gate-interval 1 \
    >"$WORK/replica$i.log" 2>&1 &
  REPLICA_PID+=($!)
  PIDS+=($!)
done
for i in 0 1 2; do
  for _ in $(seq 1 2400); do
    [ -s "$WORK/replica$i.port" ] && [ "$(wc -l <"$WORK/replica$i.port")" -ge 2 ] && break
    kill -0 "${REPLICA_PID[$i]}" 2>/dev/null ||
      fail "replica $i exited: $(tail -5 "$WORK/replica$i.log")"
    sleep 0.05
  done
  ADDR+=("127.0.0.1:$(sed -n 1p "$WORK/replica$i.port")")
  HTTP+=("http://127.0.0.1:$(sed -n 2p "$WORK/replica$i.port")")
  echo "replica $i: gRPC ${ADDR[$i]}, HTTP ${HTTP[$i]}"
done
strata() { "$BIN/strata" --server "${ADDR[0]}" --plaintext "$@"; }
strata health --wait 120

FLEET_ARGS=(--app wallet --devices 12 --app-version 10.3.0
  --host-build 10.3.0+100 --threads 4 --plaintext
  --root "$WORK/keys/root.json")
# Fleet $1 (a or b) through replica $2.
fleet() {
  local name="$1" replica="$2"
  shift 2
  "$BIN/strata-fleet" "${FLEET_ARGS[@]}" --dir "$WORK/fleet-$name" \
    --server "${ADDR[$replica]}" "$@" 2>>"$WORK/fleet-$name.stderr"
}
# The replica that leads the health gates now (-1 if none reads as leader).
gate_leader() {
  local i
  for i in "$@"; do
    if curl -s "${HTTP[$i]}/metrics" 2>/dev/null | grep -q '^strata_gate_leader 1'; then
      echo "$i"
      return
    fi
  done
  echo -1
}

step "release engineers make offline signing keys and install the app's root of trust (through replica 0)"
strata keys gen --dir "$WORK/keys"
strata trust init --keys "$WORK/keys" --app wallet
KEYS=(--key "$WORK/keys/publisher-a.key" --key "$WORK/keys/publisher-b.key")
for i in 1 2; do
  for _ in $(seq 1 2400); do
    curl -sf "${HTTP[$i]}/v1/tuf/wallet/1.root.json" >/dev/null && break
    sleep 0.05
  done
  cmp <(curl -s "${HTTP[0]}/v1/tuf/wallet/timestamp.json") \
    <(curl -s "${HTTP[$i]}/v1/tuf/wallet/timestamp.json") ||
    fail "replica $i serves another timestamp.json than replica 0"
done
echo "replicas 1 and 2 serve the same signed metadata as replica 0"

step "publishing through replica 0, signed: one module of each of the five layers"
strata publish --app wallet --layer config --module payment.limits --version 1 \
  --file "$SAMPLES/config/payment.limits.v1.json" "${KEYS[@]}"
strata publish --app wallet --layer h5 --module mall-home --version 1 \
  --dir "$SAMPLES/h5/mall-home-v1" "${KEYS[@]}"
strata publish --app wallet --layer hcf --module cart --version 1 \
  --file "$SAMPLES/hcf/cart.v1.js" "${KEYS[@]}"
strata publish --app wallet --layer hotpatch --module fix-npe --version 1 \
  --host-build 10.3.0+100 --file "$SAMPLES/hotpatch/fix-npe.v1.patch" "${KEYS[@]}"
strata publish --app wallet --layer native --module scanner --version 1 \
  --file "$SAMPLES/native/scanner.v1.bundle" "${KEYS[@]}"
strata release create --app wallet --all-at-once \
  --artifact config/payment.limits@1 --artifact h5/mall-home@1 \
  --artifact hcf/cart@1 --artifact hotpatch/fix-npe@1 \
  --artifact native/scanner@1

step "two fleets of 12 devices launch twice, one through replica 1, one through replica 2"
fleet a 1 --rounds 2 --interval-ms 200 | tee "$WORK/fleet-a1.log"
fleet b 2 --rounds 2 --interval-ms 200 | tee "$WORK/fleet-b1.log"
for f in a1 b1; do
  for m in config/payment.limits h5/mall-home hcf/cart hotpatch/fix-npe \
    native/scanner; do
    grep -q "$m=1x12" "$WORK/fleet-$f.log" ||
      fail "fleet $f: not every device runs $m 1"
  done
done
echo "delivered: every module of the release made on replica 0, to 24 devices on replicas 1 and 2"

step "a config change made on replica 0 is pushed to the streams held by replicas 1 and 2"
fleet a 1 --rounds 2 --interval-ms 0 --watch-config \
  --await-config payment.limits=2 --await-timeout-ms 120000 >"$WORK/fleet-a2.log" 2>&1 &
FA=$!
PIDS+=($FA)
fleet b 2 --rounds 2 --interval-ms 0 --watch-config \
  --await-config payment.limits=2 --await-timeout-ms 120000 >"$WORK/fleet-b2.log" 2>&1 &
FB=$!
PIDS+=($FB)
wait_for_line "$WORK/fleet-a2.log" '^round 1:' "$FA" || fail "fleet a: $(cat "$WORK/fleet-a2.log")"
wait_for_line "$WORK/fleet-b2.log" '^round 1:' "$FB" || fail "fleet b: $(cat "$WORK/fleet-b2.log")"
strata publish --app wallet --layer config --module payment.limits --version 2 \
  --file "$SAMPLES/config/payment.limits.v2.json" "${KEYS[@]}"
strata release create --app wallet --layer config --module payment.limits \
  --version 2 --all-at-once
wait "$FA" || fail "fleet a failed: $(tail -3 "$WORK/fleet-a2.log")"
wait "$FB" || fail "fleet b failed: $(tail -3 "$WORK/fleet-b2.log")"
PUSHED=$(cat "$WORK/fleet-a2.log" "$WORK/fleet-b2.log" |
  grep -cE '^config payment.limits 2 pushed' || true)
[ "$PUSHED" -eq 24 ] || fail "the config change was pushed to only $PUSHED devices"
echo "config pushed: payment.limits 2 reached $PUSHED devices on replicas 1 and 2 without a check"

step "replica 1 is killed -9; its devices reconnect to replica 2 and miss nothing"
kill -KILL "${REPLICA_PID[1]}"
wait "${REPLICA_PID[1]}" 2>/dev/null || true
strata publish --app wallet --layer h5 --module mall-home --version 2 \
  --dir "$SAMPLES/h5/mall-home-v2" "${KEYS[@]}"
strata release create --app wallet --layer h5 --module mall-home --version 2 \
  --all-at-once
fleet a 2 --rounds 2 --interval-ms 0 | tee "$WORK/fleet-a3.log"
LAST=$(grep '^round' "$WORK/fleet-a3.log" | tail -1)
grep -q "h5/mall-home=2x12" <<<"$LAST" || fail "fleet a missed Mall 2 after the kill"
grep -q "config/payment.limits=2x12" <<<"$LAST" || fail "fleet a lost config 2"
echo "fleet a, now on replica 2, runs Mall 2 (released while replica 1 was down)"

step "a hotpatch that crashes on launch: devices report to a replica that does not lead the gates; the leader halts it"
LEADER=-1
for _ in $(seq 1 2400); do
  LEADER=$(gate_leader 0 2)
  [ "$LEADER" -ge 0 ] && break
  sleep 0.05
done
[ "$LEADER" -ge 0 ] || fail "no replica leads the health gates"
REPORTER=$([ "$LEADER" -eq 2 ] && echo 0 || echo 2)
echo "replica $LEADER leads the gates; fleet b checks and reports through replica $REPORTER"
strata publish --app wallet --layer hotpatch --module fix-npe --version 2 \
  --host-build 10.3.0+100 --file "$SAMPLES/hotpatch/fix-npe.v2.patch" "${KEYS[@]}"
BAD=$(strata release create --app wallet --layer hotpatch --module fix-npe \
  --version 2 --plan "50%:1m:5,100%" --gate min_launches=4 --output json |
  sed -n 's/.*"release_id": *"\{0,1\}\([0-9][0-9]*\).*/\1/p' | head -1)
[ -n "$BAD" ] || fail "the hotpatch release was not created"
fleet b "$REPORTER" --rounds 6 --interval-ms 700 | tee "$WORK/fleet-b4.log"
HALTED=0
strata release status "$BAD" --app wallet --wait --poll-interval 250ms \
  --timeout 2m >/dev/null || HALTED=$?
[ "$HALTED" -eq 6 ] ||
  fail "the crashing hotpatch did not halt its rollout (status --wait: $HALTED)"
strata release status "$BAD" --app wallet
echo "halted: release $BAD by the gate leader (replica $(gate_leader 0 2)), on crash reports taken by replica $REPORTER"

step "blobs over HTTP from replica 2 (Range, ETag: the content hash), and the audit chain"
SHA=$(sha256sum "$SAMPLES/config/payment.limits.v2.json" | cut -d' ' -f1)
curl -sS -D "$WORK/headers" -o "$WORK/blob" -H 'Range: bytes=0-15' "${HTTP[2]}/v1/blobs/$SHA"
grep -iE '^(HTTP|etag|content-range)' "$WORK/headers"
cmp "$WORK/blob" <(head -c 16 "$SAMPLES/config/payment.limits.v2.json") ||
  fail "replica 2 served other bytes"
"$BIN/strata" --server "${ADDR[2]}" --plaintext audit verify

step "stopping the replicas and PostgreSQL"
cleanup
PIDS=()

step "summary"
cat <<EOF
three replicas on one PostgreSQL${BLOBS[0]+ and an S3-compatible store (s3rver)}
a release made on replica 0 delivered to 24 devices on replicas 1 and 2
config pushed live to $PUSHED devices across replicas
replica 1 killed -9: its devices carried on through replica 2 and missed nothing
bad hotpatch release $BAD halted by the gate leader on reports taken by replica $REPORTER
one audit chain, verified
finished in $(( $(date +%s) - START ))s: demo --cluster OK
EOF
