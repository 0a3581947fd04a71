#!/usr/bin/env bash
# Builds the fuzz targets with clang + libFuzzer + ASan/UBSan into
# build-fuzz/ (with the STRATA_FUZZING switch, diff/src/fuzzing.h) and runs
# each for the given number of seconds (default 60), starting from the
# checked-in seeds and corpus. Crashes are written to build-fuzz/fuzz/artifacts/,
# logs to build-fuzz/fuzz/logs/, and one line per target (executions, edges,
# features, finds, how far inputs got) to build-fuzz/fuzz/summary.txt.
#
# Usage: tools/fuzz.sh [--merge] [seconds] [target...]
#   --merge  afterwards, minimize each target's new corpus into the
#            checked-in corpus dir (<component>/fuzz/corpus/<name>)
#   targets: diff_patch_reader diff_patch_maker diff_tree_patch_reader
#            diff_tree_manifest diff_ustar_reader signing_metadata signing_json
#            signing_verifier rollout_expression http_range
#            http_request_head cli_release_flags device_patch
#            device_package_json (default: all)
# A target <component>_<name> keeps its seeds and corpus in
# <component>/fuzz/{seeds,corpus}/<name>; http_* in server/http/fuzz,
# cli_* in admin_cli/fuzz, device_* in client_sdk/device_core/fuzz (whose
# patch target starts from diff's patch_reader seeds and corpus too). `./strata.sh test --fuzz [SEC]` runs this after
# the tests.
set -euo pipefail
merge=0
if [ "${1:-}" = "--merge" ]; then merge=1; shift; fi
seconds="${1:-60}"
[ $# -gt 0 ] && shift
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
cxx="$(command -v clang++-14 || command -v clang++)"
cc="$(command -v clang-14 || command -v clang)"
all=(diff_patch_reader diff_patch_maker diff_tree_patch_reader diff_tree_manifest
     diff_ustar_reader signing_metadata signing_json signing_verifier
     rollout_expression http_range http_request_head cli_release_flags
     device_patch device_package_json)
fuzz_dir() {
  case "$1" in
    http_*) echo "$root/server/http/fuzz" ;;
    cli_*) echo "$root/admin_cli/fuzz" ;;
    device_*) echo "$root/client_sdk/device_core/fuzz" ;;
    *) echo "$root/${1%%_*}/fuzz" ;;
  esac
}
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

# File by file (no unity batches): CI builds the batches with GCC only, and
# this is the one clang build of the libraries.
cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DSTRATA_WERROR=OFF -DSTRATA_UNITY_BUILD=OFF -DSTRATA_DIFF_LIBFUZZER=ON -DSTRATA_SIGNING_LIBFUZZER=OFF \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" -j2 --target "${targets[@]/%/_fuzzer}"

# The functions whose coverage shows inputs got past the front checks
# (libFuzzer's -print_coverage): the apply code of the delta engine, the
# role parsers of the TUF metadata loader, the expression compiler.
reach_funcs='ApplyPatch|ApplyStrata|ApplyBsdiff|ApplyTreePatch|TreeApplier::[A-Za-z]+|DecodeManifest|ReadTreePatch'
# The device core's applier (client_sdk/device_core/src/patch.cc).
reach_funcs+='|ApplyCompact|ApplyBlocks|ApplySuffixArray|ParseUrlPrefixes'
# The anchored zstd-prefix frame maker (diff/src/anchored_frame.cc).
reach_funcs+='|internal::AnchoredPrefixFrame|internal::FrameMaker::[A-Za-z]+'
reach_funcs+='|SignedMetadata::Parse|Parse(Root|Timestamp|Snapshot|Targets|Director)|VerifyThreshold|DirectorChoicesFor'
reach_funcs+='|Expression::(Compile|Evaluate|Test|Compiler::[A-Za-z]+)'
reach_funcs+='|Verifier::(Open|Refresh|ResolveAll|ResolveModule|CheckChoice|FindTarget|MarkInstalled)'
reach_funcs+='|LoadStateInto|Update(Root|Timestamp|Snapshot|Targets|Director)|LoadTargetsRole'
reach_funcs+='|internal::ParseRequestHead|ParseRange|ParsePlan|FormatPlan|ApplyGate|FormatGates|ParseDuration|ParseExposure|ParseArtifact'

mkdir -p "$build/fuzz/artifacts" "$build/fuzz/logs"
summary="$build/fuzz/summary.txt"
: >"$summary"
status=0
for target in "${targets[@]}"; do
  name="${target#*_}"
  dir="$(fuzz_dir "$target")"
  seeds="$dir/seeds/$name"
  saved="$dir/corpus/$name"
  corpus="$build/fuzz/corpus/$target"
  log="$build/fuzz/logs/$target.log"
  mkdir -p "$corpus"
  dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")
  [ -d "$saved" ] && dirs+=("$saved")
  # The device core's applier reads the delta engine's patch inputs.
  [ "$target" = device_patch ] &&
    dirs+=("$root/diff/fuzz/seeds/patch_reader" "$root/diff/fuzz/corpus/patch_reader")
  # A target's dictionary (<component>/fuzz/<name>.dict), when it has one.
  dict=()
  [ -f "$dir/$name.dict" ] && dict=("-dict=$dir/$name.dict")
  echo "== fuzzing $target for ${seconds}s"
  rc=0
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/fuzz/${target}_fuzzer" -max_total_time="$seconds" \
    -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -print_coverage=1 "${dict[@]+"${dict[@]}"}" \
    -artifact_prefix="$build/fuzz/artifacts/${target}-" \
    "${dirs[@]}" >"$log" 2>&1 || rc=$?
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
           grep -o '[0-9]*$' || echo '?')"
  last="$(grep -E '#[0-9]+.*cov: ' "$log" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')"
  ft="$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')"
  finds="$(ls "$build/fuzz/artifacts" | grep -c "^${target}-" || true)"
  reach="$(grep -E ' reach: ' "$log" | tail -1 || true)"
  funcs="$(grep '^COVERED_FUNC: ' "$log" |
           sed -E 's/\(anonymous namespace\):://g' |
           awk -v re="^($reach_funcs)$" '{
             name = $6; sub(/\(.*/, "", name); short = name
             sub(/^strata::[a-z]+::/, "", short)
             if (short ~ re) printf "%s edges=%s; ", short, $5 }' || true)"
  line="$target: execs=$execs cov=$cov ft=$ft finds=$finds exit=$rc ${reach#* reach: }"
  echo "$line" | tee -a "$summary"
  [ -n "$funcs" ] && echo "  covered (edges): $funcs" | tee -a "$summary"
  if [ "$rc" -ne 0 ]; then
    echo "!! $target found a failure; see $log and $build/fuzz/artifacts/" >&2
    grep -v -E "^ *(UN)?COVERED_" "$log" | tail -40 >&2
    status=1
  fi
  if [ "$merge" = 1 ]; then
    mkdir -p "$saved"
    # Small corpora; the verifier's inputs are whole repositories.
    max_len=4096
    [ "$target" = signing_verifier ] && max_len=65536
    "$build/fuzz/${target}_fuzzer" -merge=1 -max_len="$max_len" "$saved" \
      "$corpus" >>"$log" 2>&1
    echo "  corpus: $(ls "$saved" | wc -l) files, $(du -sk "$saved" | cut -f1) KiB in $saved"
  fi
done
echo "summary: $summary"
exit "$status"
