#!/usr/bin/env bash
# Clang's thread-safety analysis (-Wthread-safety -Werror) over the sources
# whose locks are strata::Mutex (server/, client_sdk/, and the few in base/,
# rollout/ and diff/; issue 23): proves that every member marked
# ABSL_GUARDED_BY(mu) is touched with mu held and that every
# ABSL_EXCLUSIVE_LOCKS_REQUIRED function is called with its lock. The
# device core (client_sdk/device_core, built without base/ and Abseil) has
# its own annotated lock, client_sdk/device_core/src/device_mutex.h
# (STRATA_DEVICE_GUARDED_BY, STRATA_DEVICE_REQUIRES); its three sources
# are checked too.
#
# Syntax only (no code generation), on the translation units of an existing
# CMake build: the unity sources (8 files each) and the few non-unity
# files, with the include paths and defines of its compile_commands.json
# (the generated protobuf headers must be there: run it after a build).
# CMake's precompiled header is GCC's, which clang cannot read, so clang
# gets its own, made once per run (about 2 s of CPU less per unit).
# Two clang processes at a time (STRATA_JOBS overrides).
#
# Usage: tools/thread_safety_check.sh [BUILD_DIR]   (default: build)
#   STRATA_TS_ONLY=REGEX checks only the units whose path matches (e.g.
#   client_sdk), to iterate on one folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
DB="$BUILD/compile_commands.json"
CLANGXX="${CLANGXX:-clang++}"
JOBS="${STRATA_JOBS:-2}"

if [ ! -f "$DB" ]; then
  echo "thread-safety: no $DB; build first (./strata.sh build)" >&2
  exit 1
fi
command -v "$CLANGXX" >/dev/null || {
  echo "thread-safety: $CLANGXX not found (apt-get install clang)" >&2
  exit 1
}

# The folders whose locks are annotated (client_sdk/ includes the device
# core's non-unity sources, client_sdk/device_core/src/*.cc).
DIRS='(server|client_sdk|base|rollout|diff)'
CHECKED="^$ROOT/$DIRS/|^$BUILD/$DIRS/.*/Unity/"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/units" "$work/pch"

# compile_commands.json as CMake writes it: "command" then "file" per entry.
# Keeps -I, -isystem, -D, -std and -pthread; the precompiled header becomes
# clang's; GCC's code-generation and warning flags and the output go.
n=0
cmd=""
while IFS= read -r line; do
  case "$line" in
    '  "command": '*)
      cmd="${line#  \"command\": \"}"
      cmd="${cmd%\",}"
      # JSON's \\\" is a shell-escaped quote (-DSTRATA_VERSION=\"0.1.0\").
      cmd="${cmd//\\\\\\\"/\"}"
      cmd="${cmd//\\\"/\"}"
      ;;
    '  "file": '*)
      file="${line#  \"file\": \"}"
      file="${file%\"*}"
      [[ "$file" =~ $CHECKED ]] || continue
      [[ "$file" != */fuzz/* && "$file" != *.pb.cc ]] || continue
      [[ "$file" =~ ${STRATA_TS_ONLY:-.} ]] || continue
      read -r -a words <<<"$cmd"
      args=()
      pch=""
      prev=""
      for w in "${words[@]:1}"; do
        case "$prev" in
          -isystem) args+=(-isystem "$w") ;;
          -include) pch="$w" ;;
        esac
        if [ -n "$prev" ]; then
          prev=""
          continue
        fi
        case "$w" in
          -o | -include | -isystem) prev="$w" ;;
          -I* | -D* | -std=* | -pthread) args+=("$w") ;;
        esac
      done
      if [ -n "$pch" ]; then
        key="$work/pch/$(basename "$(dirname "$pch")")"
        # The first unit using it lends its flags to the precompiled header.
        if [ ! -f "$key.hxx" ]; then
          cp "$pch" "$key.hxx"
          printf '%s\0' "${args[@]}" >"$key.args"
        fi
        args+=(-include-pch "$key.pch")
      fi
      n=$((n + 1))
      printf '%s\0' "${args[@]}" "$file" >"$work/units/$n.args"
      ;;
  esac
done <"$DB"

if [ "$n" = 0 ]; then
  echo "thread-safety: no annotated sources in $DB" >&2
  exit 1
fi
# The device core's lock is checked only if its sources are in the build's
# database (a filter may leave them out on purpose).
if [ -z "${STRATA_TS_ONLY:-}" ] &&
  ! grep -q "device_core/src/device_core.cc" "$work"/units/*.args; then
  echo "thread-safety: client_sdk/device_core/src/device_core.cc is not" \
    "in $DB" >&2
  exit 1
fi

start=$SECONDS
for flags in "$work"/pch/*.args; do
  [ -f "$flags" ] || continue
  mapfile -d '' a <"$flags"
  "$CLANGXX" -x c++-header -Wno-everything "${a[@]}" "${flags%.args}.hxx" \
    -o "${flags%.args}.pch"
done

run_one() {
  local -a a
  mapfile -d '' a <"$1"
  "$CLANGXX" -fsyntax-only -ferror-limit=0 -Wno-everything -Wthread-safety \
    -Werror "${a[@]}" 2>&1
}
export -f run_one
export CLANGXX

if ! find "$work/units" -name '*.args' -print0 |
  xargs -0 -P "$JOBS" -n 1 bash -c 'run_one "$0"'; then
  echo "thread-safety: FAILED (clang -Wthread-safety, see above)" >&2
  exit 1
fi
echo "thread-safety: ok ($n translation units, $((SECONDS - start)) s)"
