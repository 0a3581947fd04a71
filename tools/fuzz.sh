#!/usr/bin/env bash
# Builds the delta engine's fuzz targets with clang + libFuzzer + ASan/UBSan
# into build-fuzz/ and runs each for the given number of seconds (default
# 60), starting from the checked-in seeds. Crashes are written to
# build-fuzz/fuzz/artifacts/. Usage: tools/fuzz.sh [seconds]
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
cxx="$(command -v clang++-14 || command -v clang++)"
cc="$(command -v clang-14 || command -v clang)"

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DSTRATA_WERROR=OFF -DSTRATA_DIFF_LIBFUZZER=ON \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" -j2 --target diff_patch_reader_fuzzer \
  diff_tree_patch_reader_fuzzer

mkdir -p "$build/fuzz/artifacts"
status=0
for target in patch_reader tree_patch_reader; do
  corpus="$build/fuzz/corpus/$target"
  mkdir -p "$corpus"
  echo "== fuzzing $target for ${seconds}s"
  if ! "$build/fuzz/diff_${target}_fuzzer" -max_total_time="$seconds" \
      -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/fuzz/artifacts/${target}-" \
      "$corpus" "$root/diff/fuzz/seeds/$target"; then
    echo "!! $target found a failure; see $build/fuzz/artifacts/" >&2
    status=1
  fi
done
exit "$status"
