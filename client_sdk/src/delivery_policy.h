// Download policy: whether an update may be fetched now, and the traffic
// ledger that remembers what was fetched.
//
// An update's own policy is signed with it (ArtifactStatement.delivery, or
// the publisher-signed target's custom "delivery" under a root of trust):
// on demand, the networks it may use, its install mode, mandatory. The app
// adds its own rules (ClientOptions::download_policy): networks per layer
// and per module, a daily byte budget, back-off after failed downloads.
// The stricter rule wins. No I/O here except the ledger's one small file.
#ifndef STRATA_CLIENT_SRC_DELIVERY_POLICY_H_
#define STRATA_CLIENT_SRC_DELIVERY_POLICY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client_state.h"
#include "strata/base/env.h"
#include "strata/base/json.h"
#include "strata/client/client.h"
#include "strata/v1/common.pb.h"

namespace strata::client {

// The signed target's custom "delivery" object, e.g. {"on_demand": true,
// "network": "unmetered", "install": "next_resume", "mandatory": true}.
// Unknown members are ignored; a malformed value is kInvalidArgument.
absl::StatusOr<v1::DeliveryPolicy> DeliveryFromCustom(const Json& delivery);

// May a download that needs `need` use `network`? Unknown counts as
// metered; offline allows nothing.
bool NetworkAllows(NetworkRequirement need, Network network);

// The stricter of the update's signed requirement and the app's rules for
// its layer and module.
NetworkRequirement EffectiveRequirement(
    const DownloadPolicy& app, const ModuleKey& key,
    const v1::DeliveryPolicy& signed_policy);

// Bytes downloaded per network: today (the Env clock's UTC day) and ever,
// and the back-off of modules whose last download failed. Kept in one
// small file (<storage>/traffic), rewritten atomically; a damaged file
// starts a new ledger (it is bookkeeping, not a safety property).
//   strata-traffic 1
//   day <days since 1970-01-01>
//   today <network number> <bytes>
//   total <network number> <bytes>
//   backoff <layer> <name> <failures> <until unix seconds>
class TrafficLedger {
 public:
  static TrafficLedger Open(const Env& env, std::string path);

  void Add(Network network, uint64_t bytes);
  uint64_t BytesToday();
  std::map<Network, uint64_t> Today();
  std::map<Network, uint64_t> Total() const { return total_; }

  // When the module may be tried again (nullopt: now).
  std::optional<absl::Time> BackoffUntil(const ModuleKey& key) const;
  // A failed download: the next try waits initial * 2^(failures-1), at
  // most `max`.
  void Failed(const ModuleKey& key, absl::Duration initial, absl::Duration max);
  void Succeeded(const ModuleKey& key);

  // Writes the file if anything changed (best effort: a failure is
  // logged).
  void Save();

 private:
  struct Backoff {
    int failures = 0;
    int64_t until_unix = 0;
  };
  TrafficLedger(Env env, std::string path)
      : env_(env), path_(std::move(path)) {}
  int64_t Day() const;
  void Roll();

  Env env_;
  std::string path_;
  int64_t day_ = 0;
  std::map<Network, uint64_t> today_;
  std::map<Network, uint64_t> total_;
  std::map<ModuleKey, Backoff> backoff_;
  bool dirty_ = false;  // changed since the file was written
};

// Why an update may not be downloaded now ("" if it may): the network,
// the daily budget (background downloads only: `user_waiting` false), the
// module's back-off.
std::string WhyNotNow(const DownloadPolicy& app, const ModuleKey& key,
                      const v1::DeliveryPolicy& signed_policy,
                      uint64_t estimated_bytes, Network network,
                      TrafficLedger& ledger, absl::Time now, bool user_waiting);

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_DELIVERY_POLICY_H_
