#!/usr/bin/env bash
# Fails when a file includes a header its layer may not use (STYLE.md):
#   rocksdb/   only in server/storage
#   grpcpp/    never in base/, diff/, signing/ or client_sdk/include
#   openssl/   only in signing/src and base/src (and the HTTP port's TLS
#              context, server/http/src/tls_context.cc: h2o takes an SSL_CTX)
#   client_sdk/include exposes std and absl only: no protobuf, gRPC or
#   generated strata/v1 headers.
#   the SDK's gRPC (grpcpp/, grpc/, *.grpc.pb.h, strata/proto/grpc_status.h)
#              only in client_sdk/src/grpc_transport.cc, the add-on
#              strata::client_grpc: libstrata_client and the device core
#              link no gRPC.
# Usage: tools/check_includes.sh [ROOT]   (default: this checkout)
set -euo pipefail
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"

if [ -d .git ] || [ -f .git ]; then
  list() { git ls-files -- '*.cc' '*.h' '*.cpp'; }
else
  list() { find . -name '*.cc' -o -name '*.h' | sed 's|^\./||' | grep -v '^build'; }
fi

status=0
violation() {
  echo "forbidden include: $1 includes $2 ($3)" >&2
  status=1
}

while IFS= read -r file; do
  while IFS= read -r inc; do
    case "$inc" in
      rocksdb/*)
        [[ "$file" == server/storage/* ]] ||
          violation "$file" "$inc" "RocksDB belongs to server/storage only" ;;
      grpcpp/*|grpc/*)
        [[ "$file" == base/* || "$file" == diff/* || "$file" == signing/* || "$file" == rollout/* ||
           "$file" == client_sdk/include/* ]] &&
          violation "$file" "$inc" "gRPC is not allowed in this layer" ;;
      openssl/*)
        [[ "$file" == signing/src/* || "$file" == base/src/* || "$file" == tests/* ||
           "$file" == server/http/src/tls_context.cc ]] ||
          violation "$file" "$inc" "OpenSSL is confined to signing/src and base/src" ;;
    esac
    if [[ "$file" == client_sdk/* && "$file" != client_sdk/src/grpc_transport.cc ]]; then
      case "$inc" in
        grpcpp/*|grpc/*|*.grpc.pb.h|strata/proto/grpc_status.h)
          violation "$file" "$inc" "the SDK's gRPC lives in the add-on client_sdk/src/grpc_transport.cc only" ;;
      esac
    fi
    if [[ "$file" == client_sdk/include/* ]]; then
      case "$inc" in
        google/protobuf/*|strata/v1/*|grpc*)
          violation "$file" "$inc" "SDK public headers expose std and absl only" ;;
      esac
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$file")
done < <(list)

if [ "$status" -eq 0 ]; then
  echo "includes: ok"
fi
exit "$status"
