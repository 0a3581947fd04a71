#!/usr/bin/env bash
# The forbidden-include check must pass on a clean tree and catch each kind
# of violation.
set -euo pipefail
check="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make_tree() {
  rm -rf "$tmp/tree"
  mkdir -p "$tmp/tree/server/storage" "$tmp/tree/client_sdk/include/strata/client" \
           "$tmp/tree/diff/src" "$tmp/tree/signing/src"
  echo '#include "rocksdb/db.h"' > "$tmp/tree/server/storage/store.cc"
  echo '#include <openssl/evp.h>' > "$tmp/tree/signing/src/keys.cc"
  echo '#include "absl/status/status.h"' > "$tmp/tree/client_sdk/include/strata/client/client.h"
  mkdir -p "$tmp/tree/client_sdk/src"
  echo '#include "grpcpp/create_channel.h"' > "$tmp/tree/client_sdk/src/grpc_transport.cc"
  echo '#include "strata/v1/delivery.grpc.pb.h"' >> "$tmp/tree/client_sdk/src/grpc_transport.cc"
}

make_tree
"$check" "$tmp/tree" >/dev/null || { echo "FAIL: clean tree rejected"; exit 1; }

expect_violation() {
  local file="$1" line="$2"
  make_tree
  mkdir -p "$(dirname "$tmp/tree/$file")"
  echo "$line" >> "$tmp/tree/$file"
  if "$check" "$tmp/tree" >/dev/null 2>&1; then
    echo "FAIL: $file with '$line' was not caught"
    exit 1
  fi
}
expect_violation client_sdk/src/x.cc '#include "rocksdb/db.h"'
expect_violation diff/src/x.cc '#include "grpcpp/grpcpp.h"'
expect_violation server/core/x.cc '#include <openssl/sha.h>'
expect_violation client_sdk/include/strata/client/x.h '#include "strata/v1/common.pb.h"'
expect_violation client_sdk/include/strata/client/x.h '#include "google/protobuf/message.h"'
expect_violation client_sdk/src/client.cc '#include "strata/v1/delivery.grpc.pb.h"'
expect_violation client_sdk/src/client.cc '#include "strata/proto/grpc_status.h"'
expect_violation client_sdk/device_core/src/x.cc '#include <grpcpp/grpcpp.h>'
echo "check_includes: 9 passed, 0 failed"
