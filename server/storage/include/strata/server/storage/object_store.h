// Blob chunks in an S3-compatible object store (stratad --blobs s3://...):
// immutable objects under content keys, reached over HTTP(S) with libcurl
// and signed with AWS Signature Version 4 (docs/operations.md, "Blobs in
// an object store").
//
// The metadata store stays the authority on what exists: a chunk's row is
// written (or touched) in PostgreSQL before its object is uploaded, a blob
// becomes visible only when the transaction holding its manifest commits,
// and orphaned objects are deleted under the row lock of their chunk row
// (postgres_store.cc, CollectGarbage).
#ifndef STRATA_SERVER_STORAGE_OBJECT_STORE_H_
#define STRATA_SERVER_STORAGE_OBJECT_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"

namespace strata::server {

// Where blobs go: "s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT
// [&region=REGION]" (path-style requests; region "us-east-1" unless
// given). Without endpoint, https://s3.REGION.amazonaws.com.
struct S3Location {
  std::string bucket;
  std::string prefix;  // "" or ending in "/"
  std::string endpoint;
  std::string region = "us-east-1";
};

// Whether `blobs` names an S3 location ("s3://...").
bool IsS3Url(std::string_view blobs);
absl::StatusOr<S3Location> ParseS3Url(std::string_view url);

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional (temporary credentials)
};
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN if set)
// from the environment; FAILED_PRECONDITION naming them when missing.
absl::StatusOr<S3Credentials> S3CredentialsFromEnvironment();

// One request to sign (AWS Signature Version 4).
struct SigV4Request {
  std::string method;           // "GET", "PUT", ...
  std::string canonical_uri;    // URI-encoded path, e.g. "/bucket/key"
  std::string canonical_query;  // sorted, encoded "a=1&b=2", or ""
  // Headers to sign (names any case; "host" must be among them).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256;  // hex SHA-256 of the body
};
// The Authorization header's value for `request` at `amz_date`
// ("20130524T000000Z"), in `region` for `service` ("s3").
std::string SigV4Authorization(const SigV4Request& request,
                               const S3Credentials& credentials,
                               std::string_view region,
                               std::string_view service,
                               std::string_view amz_date);
// The canonical request's parts joined (exposed for tests).
std::string SigV4CanonicalRequest(const SigV4Request& request);
// RFC 3986 encoding as SigV4 wants it; '/' kept when `keep_slash`.
std::string SigV4Encode(std::string_view s, bool keep_slash);

// Immutable objects by key.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Stores `data` under `key` (replacing: callers write content keys, so a
  // replacement holds the same bytes).
  virtual absl::Status Put(std::string_view key, std::string_view data) = 0;
  // The object, or nullopt when there is none.
  virtual absl::StatusOr<std::optional<std::string>> Get(
      std::string_view key) = 0;
  // Deletes `key` (no error when it is absent).
  virtual absl::Status Delete(std::string_view key) = 0;
  // Whether the bucket is there and the credentials are accepted.
  virtual absl::Status Check() = 0;
  // For messages: "s3://bucket/prefix at endpoint".
  virtual std::string Describe() const = 0;
};

// An object store at `location` with `credentials`; `clock` (null: the
// system's) dates the signatures.
absl::StatusOr<std::shared_ptr<ObjectStore>> OpenS3ObjectStore(
    const S3Location& location, S3Credentials credentials,
    Clock* clock = nullptr);

// `--blobs` as given: "" (null: chunks stay in the metadata store) or an
// s3:// URL, with credentials from the environment.
absl::StatusOr<std::shared_ptr<ObjectStore>> OpenBlobs(std::string_view blobs);

}  // namespace strata::server

#endif  // STRATA_SERVER_STORAGE_OBJECT_STORE_H_
