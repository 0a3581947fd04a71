#!/usr/bin/env bash
# Device footprint (issue 18 item 7): an ELF object plus every shared
# library it needs, each stripped, on this machine (x86-64), not counting
# what the app already ships: libc, libm, libdl, libpthread, librt, the
# dynamic loader, libstdc++ and libgcc_s. Usage:
#   bench/footprint/footprint.sh [--max-bytes N] <elf>...
# For each ELF: one line per file (stripped bytes) and the total. With
# --max-bytes, exits 1 when a total is over N (the 3 MB goal: 3000000).
# Defaults: build/client_sdk/device_core/libstrata_device_core.so and
# build/bin/strata-device. Needs: ldd, strip (binutils).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
max=""
if [[ "${1:-}" == "--max-bytes" ]]; then
  max="$2"
  shift 2
fi
objs=("$@")
if [[ ${#objs[@]} -eq 0 ]]; then
  objs=("$root/build/client_sdk/device_core/libstrata_device_core.so"
        "$root/build/bin/strata-device")
fi
for tool in ldd strip; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# What the app (and the OS) already ship.
excluded='^(linux-vdso|libc|libm|libdl|libpthread|librt|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so'

stripped_size() {
  local out="$work/s"
  strip -o "$out" "$1" 2>/dev/null || cp "$1" "$out"
  stat -c %s "$out"
}

status=0
for obj in "${objs[@]}"; do
  [[ -f "$obj" ]] || { echo "no such file: $obj" >&2; exit 2; }
  total=0
  count=0
  printf '%s\n' "$(basename "$obj")"
  size=$(stripped_size "$obj")
  printf '  %10d  %s\n' "$size" "$(basename "$obj")"
  total=$((total + size))
  # ldd lists the whole closure (direct and indirect needs).
  while read -r name path; do
    [[ "$name" =~ $excluded ]] && continue
    [[ -f "$path" ]] || continue
    size=$(stripped_size "$(readlink -f "$path")")
    printf '  %10d  %s\n' "$size" "$name"
    total=$((total + size))
    count=$((count + 1))
  done < <(ldd "$obj" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
  printf '  %10d  total (%d shared libraries; %s MB)\n' "$total" "$count" \
    "$(awk -v t="$total" 'BEGIN { printf "%.2f", t / 1000000 }')"
  if [[ -n "$max" && "$total" -gt "$max" ]]; then
    echo "  over the limit of $max bytes" >&2
    status=1
  fi
done
exit $status
