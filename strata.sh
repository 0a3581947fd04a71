#!/usr/bin/env bash
# strata.sh: the one entry point for building, testing and demonstrating
# Strata on Debian 12. Installs what is missing from Debian's packages
# (idempotent), configures with CMake + Ninja (ccache when present), builds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

usage() {
  cat <<'USAGE'
Usage: ./strata.sh <command> [--sanitize] [--fuzz [SEC]]

Commands:
  demo        install what is missing, build, start stratad on an embedded
              RocksDB (gRPC over TLS with a self-signed CA) and drive an
              end-to-end scenario; exits 0 on success
  demo --cluster  the scenario on three stratad replicas sharing one
              PostgreSQL (initdb in a temp dir) and an S3-compatible blob
              store (s3rver from npm), all on loopback
  test        install, build with warnings as errors, check formatting and
              forbidden includes, run every test (CTest summary at the end;
              it includes a replay of every fuzz target's checked-in corpus)
  build       install what is missing and build
  deps        only install missing Debian packages (apt-get; idempotent)
  check       only the source checks (clang-format, forbidden includes,
              clang -Wthread-safety over the annotated locks once built)
  fuzz [SEC]  build the fuzz targets with clang/libFuzzer (build-fuzz/) and
              run each for SEC seconds (default 60); = tools/fuzz.sh
  help        this text

Options:
  --sanitize  build and test with AddressSanitizer + UBSan (in build-asan/)
  --tsan      with test: only the stress tests (label "stress") and the
              gRPC-level tests (label "tsan_grpc": a real stratad on
              loopback with the SDK and CLI clients), built with
              ThreadSanitizer in build-tsan/; fails on any race report not
              suppressed by tools/tsan.supp
  --fuzz [SEC]  with test: after the tests pass, also the bounded libFuzzer
              run of every fuzz target, SEC seconds each (default 60), as
              `fuzz` does; fails when a target finds a crash or a broken
              property (e.g. ./strata.sh test --fuzz 30)

Environment:
  STRATA_JOBS   parallel build jobs (default: number of cores)
USAGE
}

# Debian packages the build, tests and demo need.
PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libzstd-dev libssl-dev libdivsufsort-dev libbz2-dev
  libcli11-dev libabsl-dev libgtest-dev libgmock-dev libh2o-evloop-dev
  clang clang-format libclang-rt-14-dev lld
  zstd bsdiff xdelta3 curl openssl ca-certificates procps
  nginx wrk
  libpq-dev postgresql libcurl4-openssl-dev
  default-jdk
  libcurl4-openssl-dev libsodium-dev libnghttp2-dev
  chromium
)
# Commands that may come from outside dpkg on some images; installed from
# Debian only when the command is missing.
COMMAND_PACKAGES=("node:nodejs" "npm:npm")

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

cmd_deps() {
  cmd_debian_deps
  cmd_console_deps
}

# The release console's charting library (uPlot, pinned in
# console/package-lock.json), which the build embeds into stratad; without
# it the console is built without charts (docs/console.md).
cmd_console_deps() {
  local lock="$ROOT/console/package-lock.json"
  local stamp="$ROOT/console/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ ! "$lock" -nt "$stamp" ] &&
    [ -f "$ROOT/console/node_modules/uplot/dist/uPlot.esm.js" ]; then
    return 0
  fi
  log "installing the console's npm packages (npm ci in console/)"
  (cd "$ROOT/console" && npm ci --no-audit --no-fund --loglevel=error) ||
    log "npm ci in console/ failed: the console will be built without charts"
}

cmd_debian_deps() {
  local missing=()
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
      missing+=("$pkg")
    fi
  done
  local pair
  for pair in "${COMMAND_PACKAGES[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all Debian packages present"
    return 0
  fi
  log "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "strata.sh: need root (or sudo) to apt-get install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
  # nginx is here only as bench/http's peer, which runs its own copy on a
  # loopback port: the system service its package starts (port 80) is
  # stopped and disabled when this script installed it.
  if printf '%s\n' "${missing[@]}" | grep -qx nginx &&
    command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
    log "nginx installed for the HTTP benchmark; its system service is off"
  fi
}

SANITIZE=0
FUZZ=0
FUZZ_SECONDS=60
build_dir() { if [ "$SANITIZE" = 1 ]; then echo "$ROOT/build-asan"; else echo "$ROOT/build"; fi; }

cmd_build() {
  cmd_deps
  local dir; dir="$(build_dir)"
  local jobs="${STRATA_JOBS:-$(nproc)}"
  local san=OFF; [ "$SANITIZE" = 1 ] && san=ON
  if [ ! -f "$dir/build.ninja" ]; then
    log "configuring $dir"
    cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSTRATA_WERROR=ON -DSTRATA_SANITIZE="$san" >/dev/null
  fi
  log "building ($jobs jobs)"
  cmake --build "$dir" -j "$jobs"
}

cmd_check() {
  log "checking formatting (clang-format --dry-run --Werror)"
  local files
  if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    files=$(git -C "$ROOT" ls-files '*.cc' '*.h' '*.cpp')
  else
    files=$(find . -name '*.cc' -o -name '*.h' | grep -v '^./build')
  fi
  # shellcheck disable=SC2086
  clang-format --dry-run --Werror $files
  log "checking forbidden includes"
  "$ROOT/tools/check_includes.sh"
  # Needs the build's compile_commands.json and generated headers: `test`
  # runs it after building; a bare `check` before any build skips it.
  local dir; dir="$(build_dir)"
  if [ -f "$dir/compile_commands.json" ] && [ -d "$dir/proto/gen" ]; then
    log "checking lock annotations (clang -Wthread-safety, tools/thread_safety_check.sh)"
    "$ROOT/tools/thread_safety_check.sh" "$dir"
  else
    log "lock annotations: skipped (no build in $dir yet; \`test\` runs them)"
  fi
}

cmd_test() {
  cmd_build
  cmd_check
  local dir; dir="$(build_dir)"
  log "running tests"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0}"
  # --timeout is a hang guard for tests without one of their own. Under
  # ASan the heaviest tests (the server's kill -9 cycles on RocksDB) take
  # 3 minutes alone and more beside other work (docs/testing.md).
  local limit=300; [ "$SANITIZE" = 1 ] && limit=900
  ctest --test-dir "$dir" --output-on-failure -j "${STRATA_JOBS:-$(nproc)}" \
    --timeout "$limit"
  if [ "$FUZZ" = 1 ]; then
    log "fuzzing every target for ${FUZZ_SECONDS}s (tools/fuzz.sh)"
    cmd_fuzz "$FUZZ_SECONDS"
  fi
}

# ThreadSanitizer (docs/testing.md, issue 23), in build-tsan/, over the
# stress tests (ctest label "stress": core classes with their real threads,
# no gRPC in the process) and the gRPC-level tests (label "tsan_grpc":
# tsan_grpc_test, a real StrataServer on loopback with the SDK and the CLI's
# client). Only their targets are built.
TSAN=0
cmd_test_tsan() {
  cmd_deps
  local dir="$ROOT/build-tsan"
  local jobs="${STRATA_JOBS:-$(nproc)}"
  if [ ! -f "$dir/build.ninja" ]; then
    log "configuring $dir"
    cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSTRATA_WERROR=ON -DSTRATA_TSAN=ON >/dev/null
  fi
  log "building the stress and gRPC-level tests with -fsanitize=thread ($jobs jobs)"
  cmake --build "$dir" -j "$jobs" --target stress_test tsan_grpc_test
  log "running them under ThreadSanitizer"
  # tools/tsan.supp: the uninstrumented RocksDB, gRPC, protobuf and Abseil
  # (Debian's builds; each entry says which reports and why).
  # history_size=7 (the most): an earlier access keeps its stack, so a
  # report whose first access RocksDB made (its memtable, read by our code
  # through an iterator) still shows RocksDB's frames for the entry.
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:history_size=7:second_deadlock_stack=1:suppressions=$ROOT/tools/tsan.supp}"
  ctest --test-dir "$dir" --output-on-failure -L 'stress|tsan_grpc' \
    -j "$jobs" --timeout 300
}

CLUSTER=0
cmd_demo() {
  cmd_build
  if [ "$CLUSTER" = 1 ]; then
    "$ROOT/tools/demo_cluster.sh" "$(build_dir)/bin"
  else
    "$ROOT/tools/demo.sh" "$(build_dir)/bin"
  fi
}

cmd_fuzz() {
  cmd_deps
  if [ ! -x "$ROOT/tools/fuzz.sh" ]; then
    echo "strata.sh: tools/fuzz.sh is missing" >&2
    exit 1
  fi
  "$ROOT/tools/fuzz.sh" "$@"
}

main() {
  local cmd="${1:-help}"
  [ $# -gt 0 ] && shift
  local rest=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --sanitize) SANITIZE=1 ;;
      --tsan) TSAN=1 ;;
      --cluster) CLUSTER=1 ;;
      --fuzz=*) FUZZ=1; FUZZ_SECONDS="${1#--fuzz=}" ;;
      --fuzz)
        FUZZ=1
        if [[ "${2:-}" =~ ^[0-9]+$ ]]; then FUZZ_SECONDS="$2"; shift; fi ;;
      *) rest+=("$1") ;;
    esac
    shift
  done
  if ! [[ "$FUZZ_SECONDS" =~ ^[0-9]+$ ]] || [ "$FUZZ_SECONDS" -eq 0 ]; then
    echo "strata.sh: --fuzz takes a whole number of seconds per target" >&2
    exit 2
  fi
  if [ "$FUZZ" = 1 ] && [ "$cmd" != test ]; then
    echo "strata.sh: --fuzz goes with test (./strata.sh test --fuzz [SEC]);" \
      "for the fuzz run alone use ./strata.sh fuzz [SEC]" >&2
    exit 2
  fi
  if [ "$TSAN" = 1 ] && [ "$cmd" != test ]; then
    echo "strata.sh: --tsan goes with test (./strata.sh test --tsan)" >&2
    exit 2
  fi
  case "$cmd" in
    demo) cmd_demo ;;
    test) if [ "$TSAN" = 1 ]; then cmd_test_tsan; else cmd_test; fi ;;
    build) cmd_build ;;
    deps) cmd_deps ;;
    check) cmd_check ;;
    fuzz) cmd_fuzz "${rest[@]+"${rest[@]}"}" ;;
    help|-h|--help) usage ;;
    *) echo "strata.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
  esac
}

main "$@"
