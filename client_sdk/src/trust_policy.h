// The trust seam: whether an update the server offers may be installed, and
// with which facts.
//
// The verifying policy (NewTufTrustPolicy, what every app runs) keeps a
// strata::signing::Verifier over the root pinned in the app. Per Check (or
// pushed config) it refreshes the verifier once from the metadata files the
// server sent (files the server did not resend come from the verifier's own
// trusted bytes) or from a TUF repository over HTTP, checks the plan's
// device binding and expiry, and then resolves every entry through the
// signed director to a publisher-signed target: the entry the SDK installs
// carries the signed facts (hash, length, release counter, version,
// compatibility), never the server's copy. A failed refresh refuses every
// entry with the verifier's reason.
//
// The insecure policy (ClientOptions::
// insecure_skip_signature_verification_for_tests) verifies nothing and says
// so loudly on every check.
#ifndef STRATA_CLIENT_SRC_TRUST_POLICY_H_
#define STRATA_CLIENT_SRC_TRUST_POLICY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/signing/verifier.h"
#include "strata/v1/delivery.pb.h"

namespace strata::client {

using MetadataFiles = google::protobuf::RepeatedPtrField<v1::MetadataFile>;

class TrustPolicy {
 public:
  virtual ~TrustPolicy() = default;
  // What the device trusts now, for CheckRequest/WatchConfigRequest.trusted
  // (the server then sends only newer files).
  virtual v1::TrustedVersions Trusted() const = 0;
  // Once per check (`plan` set) or pushed config (`plan` null), with the
  // metadata files that came with it. A rejection (with a RejectReason)
  // refuses every update of that check or push.
  virtual absl::Status Refresh(const MetadataFiles& metadata,
                               const v1::UpdatePlan* plan) = 0;
  // May `entry` be installed? The entry to install (the signed facts in
  // place of the server's), or a rejection carrying a RejectReason.
  virtual absl::StatusOr<v1::UpdateEntry> Authorize(
      const v1::UpdateEntry& entry) = 0;
  // Release `counter` of the module became active: lower counters are
  // refused from now on (also across restarts).
  virtual absl::Status MarkInstalled(int layer, const std::string& module,
                                     uint64_t counter) = 0;
};

// Verifies nothing: the SDK's own checks only. Logs a warning on every
// Refresh() (once per check or push). For tests.
std::unique_ptr<TrustPolicy> NewInsecureTrustPolicy();

struct TufTrustOptions {
  std::string pinned_root_json;
  std::string state_dir;  // the verifier's trusted state
  std::string app_id;
  v1::DeviceContext device;
  // When set, metadata is fetched over HTTP from this TUF repository
  // ("http://host:port/v1/tuf/<app>") instead of taken from the server's
  // answers.
  std::string metadata_base_url;
  // The verifier's limits (byte caps per role, the refresh deadline).
  signing::VerifierOptions verifier;
};

// The verifying policy (docs/trust.md). Fails (TRUSTED_STATE_CORRUPT) when
// the pinned root or the stored trusted state is invalid.
absl::StatusOr<std::unique_ptr<TrustPolicy>> NewTufTrustPolicy(
    const Env& env, TufTrustOptions options);

// The metadata a refresh reads, by TUF file name. Files the server did not
// (re)send are served from `verifier`'s trusted bytes (timestamp.json and
// director.json when unchanged, a snapshot/targets/layer role at its trusted
// version); a root newer than the trusted one that was not sent is
// kNotFound (the end of the root chain). Exposed for tests.
class ResponseMetadataSource : public signing::MetadataSource {
 public:
  ResponseMetadataSource(const signing::Verifier& verifier,
                         const MetadataFiles& files);
  absl::StatusOr<std::string> Fetch(
      const signing::FetchRequest& request) override;

 private:
  const signing::Verifier& verifier_;
  signing::InMemoryMetadataSource sent_;
};

// One HTTP GET per file from a TUF repository (`base_url`/<file name>),
// each capped at the request's max_length and bounded by its deadline; 404
// is kNotFound. A file at the verifier's trusted version is not fetched
// again. Exposed for tests.
class HttpMetadataSource : public signing::MetadataSource {
 public:
  HttpMetadataSource(const signing::Verifier& verifier, std::string base_url,
                     Clock* clock);
  absl::StatusOr<std::string> Fetch(
      const signing::FetchRequest& request) override;

 private:
  const signing::Verifier& verifier_;
  std::string base_url_;
  Clock* clock_;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_TRUST_POLICY_H_
