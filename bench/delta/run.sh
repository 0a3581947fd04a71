#!/usr/bin/env bash
# Delta benchmark: Strata vs bsdiff 4.3, xdelta3 and zstd --patch-from on
# real npm version pairs, all measured in the same run; results are ratios
# to bsdiff. Usage:
#   bench/delta/run.sh [strata-diff binary] [cache dir]
# Diff runs once per tool; apply runs three times (best time, peak RSS).
# Defaults: build-diff/bin/strata-diff and build/bench-cache (outside the
# source tree proper; fetched with `npm pack`, reused when present).
# Needs: bsdiff, xdelta3, zstd, npm, /usr/bin/time (Debian packages
# bsdiff, xdelta3, zstd, npm, time).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
strata="${1:-$root/build-diff/bin/strata-diff}"
cache="${2:-$root/build/bench-cache}"
for tool in bsdiff bspatch xdelta3 zstd npm /usr/bin/time "$strata"; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name  package  old-version  new-version  file-inside-package
pairs=(
  "esbuild   @esbuild/linux-x64       0.19.11 0.19.12 bin/esbuild"
  "react-dom react-dom                18.2.0  18.3.1  umd/react-dom.development.js"
  "vue       vue                      3.4.26  3.4.27  dist/vue.global.js"
  "lodash    lodash                   4.17.20 4.17.21 lodash.js"
  "bcd-json  @mdn/browser-compat-data 5.5.0   5.5.1   data.json"
)

fetch() {  # package version -> path of the unpacked package dir
  local pkg="$1" ver="$2"
  local key="${pkg//[@\/]/_}-$ver"
  if [[ ! -d "$cache/$key/package" ]]; then
    mkdir -p "$cache/$key"
    (cd "$cache/$key" && npm pack --silent "$pkg@$ver" >/dev/null)
    tar xzf "$cache/$key"/*.tgz -C "$cache/$key"
  fi
  echo "$cache/$key"
}

# measure <out-var-prefix> cmd... : wall seconds (ms precision) and peak
# RSS in KB (from /usr/bin/time -v's "Maximum resident set size").
measure() {
  local prefix="$1"; shift
  local start="$EPOCHREALTIME"
  /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || {
    echo "command failed: $*" >&2; cat "$work/err" >&2; exit 1; }
  local end="$EPOCHREALTIME"
  printf -v "${prefix}_t" '%s' "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')"
  printf -v "${prefix}_m" '%s' "$(tail -1 "$work/time")"
}

# best3 <prefix> cmd... : like measure, best (lowest) time of 3 runs; apply
# runs are short, so one run is at the mercy of other load on the machine.
best3() {
  local prefix="$1"; shift
  local bt="" bm=""
  for _ in 1 2 3; do
    [[ -n ${CLEAN:-} ]] && rm -rf "$CLEAN"  # a tree apply needs a fresh dir
    measure b "$@"
    if [[ -z $bt ]] || awk -v a="$b_t" -v b="$bt" 'BEGIN { exit !(a < b) }'; then bt=$b_t; fi
    if [[ -z $bm || $b_m -gt $bm ]]; then bm=$b_m; fi
  done
  printf -v "${prefix}_t" '%s' "$bt"
  printf -v "${prefix}_m" '%s' "$bm"
}

# run_tool tool old new : sets size, dt, dm, at, am
run_tool() {
  local tool="$1" old="$2" new="$3"
  local p="$work/patch" out="$work/out"
  rm -rf "$p" "$out"
  case "$tool" in
    strata)
      measure d "$strata" diff -q "$old" "$new" "$p"
      CLEAN="$out" best3 a "$strata" apply "$old" "$p" "$out" ;;
    bsdiff)
      measure d bsdiff "$old" "$new" "$p"
      best3 a bspatch "$old" "$out" "$p" ;;
    xdelta3)
      measure d xdelta3 -e -9 -f -s "$old" "$new" "$p"
      best3 a xdelta3 -d -f -s "$old" "$p" "$out" ;;
    zstd)
      measure d zstd -q -f -19 --long=27 --patch-from="$old" "$new" -o "$p"
      best3 a zstd -q -f -d --long=27 --patch-from="$old" "$p" -o "$out" ;;
  esac
  if [[ -d "$new" ]]; then
    diff -r "$new" "$out" >/dev/null || { echo "$tool: tree differs" >&2; exit 1; }
  else
    cmp -s "$new" "$out" || { echo "$tool: output differs" >&2; exit 1; }
  fi
  size=$(stat -c %s "$p")
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 0.005; printf "%.2f", a / b }'; }

echo "# Delta benchmark, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "Ratios are tool / bsdiff on the same pair in this run (lower is better"
echo "for size, time and memory); the bsdiff rows give absolute figures."
echo
# Idle baselines: peak RSS of applying a trivial patch (shared libraries,
# allocator, buffers), to separate the process floor from the working set.
printf 'a' > "$work/o1"; printf 'b' > "$work/n1"
bsdiff "$work/o1" "$work/n1" "$work/p1"
measure base bspatch "$work/o1" "$work/x1" "$work/p1"; bspatch_idle=$base_m
"$strata" diff -q "$work/o1" "$work/n1" "$work/p2"
measure base "$strata" apply "$work/o1" "$work/p2" "$work/x2"; strata_idle=$base_m
echo "Idle apply RSS (trivial patch): bspatch $bspatch_idle KB, strata-diff $strata_idle KB."
echo "\"apply work\" = Strata's apply peak RSS minus its idle RSS, over the same for bspatch."
echo
echo "| pair | new size | tool | patch size | diff time | diff peak RSS | apply time | apply peak RSS | apply work |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for line in "${pairs[@]}"; do
  read -r name pkg v1 v2 file <<< "$line"
  o="$(fetch "$pkg" "$v1")/package/$file"
  n="$(fetch "$pkg" "$v2")/package/$file"
  nsize=$(stat -c %s "$n")
  run_tool bsdiff "$o" "$n"
  bs=$size; bdt=$d_t; bdm=$d_m; bat=$a_t; bam=$a_m
  echo "| $name ($file) | $nsize | bsdiff | $bs B | ${bdt} s | $((bdm / 1024)) MB | ${bat} s | $((bam / 1024)) MB | $(((bam - bspatch_idle) / 1024)) MB |"
  for tool in strata xdelta3 zstd; do
    run_tool "$tool" "$o" "$n"
    work_ratio="-"
    [[ $tool == strata ]] && work_ratio="$(ratio $((a_m - strata_idle)) $((bam - bspatch_idle)))x"
    echo "| | | $tool | $(ratio $size $bs)x | $(ratio $d_t $bdt)x | $(ratio $d_m $bdm)x | $(ratio $a_t $bat)x | $(ratio $a_m $bam)x | $work_ratio |"
  done
done

echo
echo "Package trees shipped as compressed archives: Strata's tree patch of the"
echo "unpacked packages vs bsdiff of the .tgz files."
echo
echo "| package | new .tgz | bsdiff .tgz patch | strata tree patch | ratio | strata diff time vs bsdiff | strata apply peak RSS vs bspatch |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for line in "${pairs[@]}"; do
  read -r name pkg v1 v2 file <<< "$line"
  d1="$(fetch "$pkg" "$v1")"; d2="$(fetch "$pkg" "$v2")"
  t1=$(ls "$d1"/*.tgz); t2=$(ls "$d2"/*.tgz)
  run_tool bsdiff "$t1" "$t2"
  bs=$size; bdt=$d_t; bam=$a_m
  run_tool strata "$d1/package" "$d2/package"
  echo "| $name | $(stat -c %s "$t2") | $bs B | $size B | $(ratio $size $bs)x | $(ratio $d_t $bdt)x | $(ratio $a_m $bam)x |"
done
