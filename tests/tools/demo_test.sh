#!/usr/bin/env bash
# Runs the README's demo (tools/demo.sh) through the real binaries and
# checks its output for the key outcomes: every layer delivered, the grey
# release promoted, the config pushed live, the bad hotpatch halted and
# rolled back, a crashing page disabled by a signed remedy on android 13
# only, nothing left running.
# Usage: demo_test.sh DEMO_SCRIPT BIN_DIR WORK_DIR
set -uo pipefail
demo="$1" bin="$2" work="$3"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

STRATA_DEMO_DIR="$work" "$demo" "$bin" >"$out" 2>&1
rc=$?
status=0
expect() {
  if ! grep -qE -- "$1" "$out"; then
    echo "FAIL: demo output lacks: $1"
    status=1
  fi
}
[ "$rc" -eq 0 ] || { echo "FAIL: demo exited with $rc"; status=1; }
for m in config/payment.limits h5/mall-home hcf/cart hotpatch/fix-npe \
  native/scanner; do
  expect "^delivered: $m 1 to 24 devices"
done
expect "^grey release completed on its own"
expect "^config pushed: payment.limits 3 reached [0-9]+ connected devices"
expect "^halted: release [0-9]+ stopped itself at 25%"
expect "^rolled back: every device runs hotpatch fix-npe 1 again"
expect "^remedy: checkout disabled on the 6 android 13 devices by a signed rule"
expect "^stratad is serving on .* over TLS"
expect "^a plaintext client is refused"
expect "release\.auto_halt"
expect "release\.auto_promote"
expect "demo OK$"
# Nothing left running from this demo's directory.
if pgrep -f -- "$work/(server|fleet)" >/dev/null; then
  echo "FAIL: processes of the demo are still running:"
  pgrep -af -- "$work/(server|fleet)"
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "---- demo output ----"
  cat "$out"
fi
exit "$status"
