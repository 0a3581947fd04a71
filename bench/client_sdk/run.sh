#!/usr/bin/env bash
# Client SDK benchmark: the SDK's delta apply (download of the patch from
# memory, strata::diff apply, SHA-256 check against the statement, fsyncs,
# atomic state switch) against `bspatch`, and its verification against
# `sha256sum`, on the same files in the same run. Best of 3 runs each.
# Usage: bench/client_sdk/run.sh [client_sdk_bench binary] [megabytes]
# Needs: bsdiff (bsdiff, bspatch), coreutils (sha256sum).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bench="${1:-$root/build-sdk/bin/client_sdk_bench}"
mb="${2:-32}"
for tool in bsdiff bspatch sha256sum "$bench"; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

best3() {  # prints the best wall time (s) of 3 runs of "$@"
  local best=""
  for _ in 1 2 3; do
    local start="$EPOCHREALTIME"
    "$@" >/dev/null
    local end="$EPOCHREALTIME"
    best="$(awk -v a="$start" -v b="$end" -v c="$best" \
      'BEGIN { t = b - a; if (c == "" || t < c) c = t; printf "%.3f", c }')"
  done
  echo "$best"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
mbps() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / 1048576 / t }'; }

"$bench" gen "$work" "$mb"
new_size=$(stat -c %s "$work/new")
bsdiff "$work/old" "$work/new" "$work/patch.bsdiff"
"$bench" mkpatch "$work/old" "$work/new" "$work/patch.strata"

bspatch_t=$(best3 bspatch "$work/old" "$work/out" "$work/patch.bsdiff")
cmp "$work/out" "$work/new"
sdk_bsdiff_t=$("$bench" apply "$work/old" "$work/new" "$work/patch.bsdiff" 3)
sdk_strata_t=$("$bench" apply "$work/old" "$work/new" "$work/patch.strata" 3)

# Verification on a larger file (8 x the new version).
for _ in 1 2 3 4 5 6 7 8; do cat "$work/new"; done >"$work/big"
big_size=$(stat -c %s "$work/big")
sha_t=$(best3 sha256sum "$work/big")
read -r sdk_install_t sdk_verify_t < <("$bench" verify "$work/big" 3)

echo "new version: $new_size bytes; bsdiff patch $(stat -c %s "$work/patch.bsdiff") B, strata patch $(stat -c %s "$work/patch.strata") B"
echo
echo "| operation | peer | peer time | SDK time | SDK / peer | SDK MB/s |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
echo "| apply BSDIFF40 patch | bspatch | $bspatch_t s | $sdk_bsdiff_t s | $(ratio "$sdk_bsdiff_t" "$bspatch_t") | $(mbps "$new_size" "$sdk_bsdiff_t") |"
echo "| apply Strata patch | bspatch (bsdiff patch) | $bspatch_t s | $sdk_strata_t s | $(ratio "$sdk_strata_t" "$bspatch_t") | $(mbps "$new_size" "$sdk_strata_t") |"
echo "| verify installed ($big_size B) | sha256sum | $sha_t s | $sdk_verify_t s | $(ratio "$sdk_verify_t" "$sha_t") | $(mbps "$big_size" "$sdk_verify_t") |"
echo "| download + verify + install ($big_size B, from memory) | sha256sum | $sha_t s | $sdk_install_t s | $(ratio "$sdk_install_t" "$sha_t") | $(mbps "$big_size" "$sdk_install_t") |"
