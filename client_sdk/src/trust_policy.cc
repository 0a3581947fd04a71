#include "trust_policy.h"

#include <algorithm>

#include "delivery_policy.h"
#include "reject.h"
#include "strata/base/http_get.h"
#include "strata/base/log.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/reject_reason.h"
#include "strata/signing/verifier.h"

namespace strata::client {
namespace {

class InsecureTrustPolicy : public TrustPolicy {
 public:
  v1::TrustedVersions Trusted() const override { return {}; }
  absl::Status Refresh(const MetadataFiles&, const v1::UpdatePlan*) override {
    STRATA_LOG(Warning)
        << "INSECURE: signature verification is OFF "
           "(ClientOptions.insecure_skip_signature_verification_for_tests); "
           "this device installs whatever the server sends. Tests only: pin "
           "the root that `strata trust init` writes "
           "(ClientOptions.pinned_root_json).";
    return absl::OkStatus();
  }
  absl::StatusOr<v1::UpdateEntry> Authorize(
      const v1::UpdateEntry& entry) override {
    return entry;
  }
  absl::Status MarkInstalled(int, const std::string&, uint64_t) override {
    return absl::OkStatus();
  }
};

absl::Status Refuse(signing::RejectReason reason, std::string message) {
  return signing::Reject(reason, absl::StatusCode::kPermissionDenied,
                         std::move(message));
}

signing::DeviceInfo DeviceOf(const std::string& app_id,
                             const v1::DeviceContext& c) {
  signing::DeviceInfo d;
  d.app_id = app_id;
  d.device_id = c.device_id();
  d.user_id = c.user_id();
  d.app_version = c.app_version();
  d.host_build = c.host_build();
  d.runtime_version = c.runtime_version();
  d.sdk_version = c.sdk_version();
  rollout::DeviceAttributes& a = d.attributes;
  a.app_version = c.app_version();
  a.os = c.os();
  a.os_version = c.os_version();
  a.device_model = c.device_model();
  a.region = c.region();
  a.channel = c.channel();
  a.network = c.network();
  a.locale = c.locale();
  a.user_id = c.user_id();
  a.device_id = c.device_id();
  for (const auto& [k, v] : c.attributes()) a.custom[k] = v;
  return d;
}

// The statement, release and transfer facts of a signed target, in the
// shape the SDK installs: the server's entry supplies only how to fetch
// the bytes (inline copy, patches), which are verified against these.
absl::StatusOr<v1::UpdateEntry> SignedEntry(
    const v1::UpdateEntry& offered, const signing::VerifiedTarget& target) {
  const signing::ArtifactInfo& a = *target.artifact;
  v1::UpdateEntry e;
  e.mutable_module()->set_layer(static_cast<v1::Layer>(a.layer));
  e.mutable_module()->set_name(a.module);
  e.set_release_sequence(a.release_counter);
  // The signed director names the release when a release rule chose it.
  e.set_release_id(target.release_id != 0 ? target.release_id
                                          : offered.release_id());
  v1::ArtifactStatement* st = e.mutable_statement();
  st->set_app_id(a.app_id);
  *st->mutable_module() = e.module();
  st->set_version(a.version_label.empty() ? std::to_string(a.release_counter)
                                          : a.version_label);
  st->set_content_sha256(target.sha256);
  st->set_size(target.length);
  v1::Compatibility* c = st->mutable_compatibility();
  c->set_min_app_version(a.compat.app_version.min);
  c->set_max_app_version(a.compat.app_version.max);
  c->set_host_build(a.compat.host_build);
  c->set_runtime_version(a.compat.runtime_version.min);
  c->set_min_sdk_version(a.compat.min_sdk_version);
  e.mutable_full()->set_sha256(target.sha256);
  e.mutable_full()->set_size(target.length);
  // A revert target (docs/trust.md): the publishers' signature says "run
  // the embedded version"; the server's flag alone is not trusted.
  const Json& custom = target.file.extra_custom;
  const Json* revert = custom.is_object() ? custom.Find("revert") : nullptr;
  e.set_revert_to_embedded(revert != nullptr && revert->is_string() &&
                           revert->as_string() == "embedded");
  // How devices fetch and switch to it (on demand, networks, install
  // mode, mandatory): the publishers' word, not the server's.
  const Json* delivery = custom.is_object() ? custom.Find("delivery") : nullptr;
  if (delivery != nullptr) {
    absl::StatusOr<v1::DeliveryPolicy> policy = DeliveryFromCustom(*delivery);
    if (!policy.ok()) {
      return Refuse(signing::RejectReason::kMalformedMetadata,
                    StrCat("signed target ", target.name, ": ",
                           ToStd(policy.status().message())));
    }
    *st->mutable_delivery() = *std::move(policy);
  }
  // Patches: a patch's output is verified against the signed hash anyway;
  // what is capped here is what the server may make the device download.
  // A byte patch the publisher listed must be the one listed; any other
  // patch (and every tree patch, which stratad makes: its tree is re-packed
  // and checked against the signed hash) may not be larger than the
  // content itself.
  for (const v1::DeltaRef& d : offered.deltas()) {
    bool listed = false, same = false;
    for (const signing::DeltaEntry& s : a.deltas) {
      if (d.tree() || s.from_sha256 != d.from_sha256()) continue;
      listed = true;
      same |= s.sha256 == d.patch().sha256() && s.length == d.patch().size();
    }
    if (listed ? same : d.patch().size() <= target.length) {
      *e.add_deltas() = d;
    }
  }
  if (!offered.inline_content().empty()) {
    e.set_inline_content(offered.inline_content());  // checked on install
  }
  return e;
}

class TufTrustPolicy : public TrustPolicy {
 public:
  TufTrustPolicy(const Env& env, std::unique_ptr<signing::Verifier> verifier,
                 signing::DeviceInfo device, std::string metadata_base_url)
      : env_(env),
        verifier_(std::move(verifier)),
        device_(std::move(device)),
        metadata_base_url_(std::move(metadata_base_url)) {}

  v1::TrustedVersions Trusted() const override {
    const signing::TrustedVersionsInfo t = verifier_->TrustedVersions();
    v1::TrustedVersions out;
    out.set_root(t.root);
    out.set_timestamp(t.timestamp);
    out.set_snapshot(t.snapshot);
    out.set_targets(t.targets);
    for (const auto& [role, v] : t.roles) (*out.mutable_roles())[role] = v;
    out.set_director(t.director);
    return out;
  }

  absl::Status Refresh(const MetadataFiles& metadata,
                       const v1::UpdatePlan* plan) override {
    absl::Status s = RefreshOnce(metadata, plan);
    if (signing::GetRejectReason(s) ==
        signing::RejectReason::kTrustedStatePersistFailed) {
      // Nothing verified can be installed until the state is written
      // (the reject reason stays with the status).
      absl::Status hinted(
          s.code(), StrCat(ToStd(s.message()),
                           "; free storage space on the device (or make the "
                           "storage directory writable) and check again"));
      s.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
        hinted.SetPayload(url, payload);
      });
      s = hinted;
    }
    if (!s.ok()) {
      STRATA_LOG(Warning) << "trust: nothing of this "
                          << (plan != nullptr ? "check" : "pushed config")
                          << " can be installed: " << s.ToString();
    }
    refreshed_ = s.ok();
    return s;
  }

  absl::StatusOr<v1::UpdateEntry> Authorize(
      const v1::UpdateEntry& entry) override {
    if (!refreshed_) {
      return signing::Reject(signing::RejectReason::kMetadataUnavailable,
                             absl::StatusCode::kUnavailable,
                             "no verified metadata for this update");
    }
    const std::string what =
        StrCat(entry.module().name(), " ", entry.statement().version());
    absl::StatusOr<signing::VerifiedTarget> target = verifier_->ResolveModule(
        device_, static_cast<signing::Layer>(entry.module().layer()),
        entry.module().name());
    if (absl::IsNotFound(target.status()) &&
        !signing::GetRejectReason(target.status()).has_value()) {
      return Refuse(signing::RejectReason::kUnsignedDirectorTarget,
                    StrCat("the signed director assigns nothing to this "
                           "device for ",
                           what, "; the server's offer is not trusted"));
    }
    STRATA_RETURN_IF_ERROR(target.status());
    if (!target->artifact.has_value()) {
      return Refuse(signing::RejectReason::kUnsignedDirectorTarget,
                    StrCat("the signed target ", target->name,
                           " carries no Strata artifact statement"));
    }
    const v1::ArtifactStatement& st = entry.statement();
    if (target->sha256 != st.content_sha256() || target->length != st.size() ||
        target->artifact->release_counter != entry.release_sequence()) {
      return Refuse(
          signing::RejectReason::kDirectorTargetMismatch,
          StrCat("the offered ", what, " (sha256 ", st.content_sha256(), ", ",
                 st.size(), " bytes, release counter ",
                 entry.release_sequence(), ") differs from the signed target ",
                 target->name, " (sha256 ", target->sha256, ", ",
                 target->length, " bytes, release counter ",
                 target->artifact->release_counter, ")"));
    }
    return SignedEntry(entry, *target);
  }

  absl::Status MarkInstalled(int layer, const std::string& module,
                             uint64_t counter) override {
    signing::VerifiedTarget t;
    t.artifact.emplace();
    t.artifact->layer = static_cast<signing::Layer>(layer);
    t.artifact->module = module;
    t.artifact->release_counter = counter;
    t.name = signing::TargetName(t.artifact->layer, module, counter);
    return verifier_->MarkInstalled(t);
  }

 private:
  absl::Status RefreshOnce(const MetadataFiles& metadata,
                           const v1::UpdatePlan* plan) {
    if (plan != nullptr && !plan->updates().empty()) {
      STRATA_RETURN_IF_ERROR(CheckPlan(*plan));
    }
    if (!metadata_base_url_.empty()) {
      HttpMetadataSource source(*verifier_, metadata_base_url_, env_.clock);
      STRATA_RETURN_IF_ERROR(verifier_->Refresh(source));
    } else {
      ResponseMetadataSource source(*verifier_, metadata);
      STRATA_RETURN_IF_ERROR(verifier_->Refresh(source));
    }
    return absl::OkStatus();
  }

  absl::Status CheckPlan(const v1::UpdatePlan& plan) {
    if (plan.device_id() != device_.device_id) {
      return Refuse(signing::RejectReason::kWrongDevice,
                    StrCat("the plan is for device '", plan.device_id(),
                           "', this is '", device_.device_id, "'"));
    }
    const absl::Time expires = absl::FromUnixSeconds(plan.expires_at_unix());
    const absl::Time now = env_.clock->Now();
    if (expires < now) {
      return Refuse(signing::RejectReason::kExpiredMetadata,
                    StrCat("the plan expired at ",
                           absl::FormatTime(absl::RFC3339_sec, expires,
                                            absl::UTCTimeZone()),
                           " (replayed or delayed answer); check again"));
    }
    return absl::OkStatus();
  }

  Env env_;
  std::unique_ptr<signing::Verifier> verifier_;
  signing::DeviceInfo device_;
  std::string metadata_base_url_;
  bool refreshed_ = false;
};

}  // namespace

ResponseMetadataSource::ResponseMetadataSource(
    const signing::Verifier& verifier, const MetadataFiles& files)
    : verifier_(verifier) {
  for (const v1::MetadataFile& f : files) sent_.Put(f.name(), f.content());
}

absl::StatusOr<std::string> ResponseMetadataSource::Fetch(
    const signing::FetchRequest& request) {
  const std::string name = request.FileName();
  if (sent_.files().count(name) > 0) return sent_.Fetch(request);
  if (request.role == "root") {
    return absl::NotFoundError(StrCat("no ", name, " was sent"));
  }
  std::optional<std::string> trusted = verifier_.TrustedFile(name);
  if (!trusted.has_value()) {
    return absl::UnavailableError(
        StrCat("the server sent no ", name,
               " and the device trusts none by that name"));
  }
  if (trusted->size() > request.max_length) {
    return absl::ResourceExhaustedError(StrCat(
        "trusted ", name, " is longer than ", request.max_length, " bytes"));
  }
  return *std::move(trusted);
}

HttpMetadataSource::HttpMetadataSource(const signing::Verifier& verifier,
                                       std::string base_url, Clock* clock)
    : verifier_(verifier), base_url_(std::move(base_url)), clock_(clock) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

absl::StatusOr<std::string> HttpMetadataSource::Fetch(
    const signing::FetchRequest& request) {
  const std::string name = request.FileName();
  // Versioned files are immutable: what is trusted at that version is it.
  if (request.version.has_value() && request.role != "root") {
    std::optional<std::string> trusted = verifier_.TrustedFile(name);
    if (trusted.has_value() && trusted->size() <= request.max_length) {
      return *std::move(trusted);
    }
  }
  HttpGetOptions o;
  o.max_body_bytes = request.max_length;
  o.clock = clock_;
  if (request.deadline != absl::InfiniteFuture()) {
    o.timeout = request.deadline - clock_->Now();
    if (o.timeout <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          StrCat("no time left to fetch ", name));
    }
  }
  const std::string url = StrCat(base_url_, "/", name);
  STRATA_ASSIGN_OR_RETURN(HttpResponse r, HttpGet(url, o));
  if (r.status_code == 404) {
    return absl::NotFoundError(StrCat(url, " does not exist"));
  }
  if (r.status_code < 200 || r.status_code > 299) {
    return absl::UnavailableError(
        StrCat("GET ", url, " answered HTTP ", r.status_code));
  }
  return std::move(r.body);
}

std::unique_ptr<TrustPolicy> NewInsecureTrustPolicy() {
  return std::make_unique<InsecureTrustPolicy>();
}

absl::StatusOr<std::unique_ptr<TrustPolicy>> NewTufTrustPolicy(
    const Env& env, TufTrustOptions options) {
  signing::VerifierOptions vo = std::move(options.verifier);
  vo.state_dir = options.state_dir;
  vo.pinned_root = options.pinned_root_json;
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<signing::Verifier> verifier,
                          signing::Verifier::Open(env, std::move(vo)));
  return std::unique_ptr<TrustPolicy>(new TufTrustPolicy(
      env, std::move(verifier), DeviceOf(options.app_id, options.device),
      std::move(options.metadata_base_url)));
}

}  // namespace strata::client
