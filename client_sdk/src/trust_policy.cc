#include "trust_policy.h"

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/signing/reject_reason.h"
#include "strata/signing/verifier.h"

namespace strata::client {
namespace {

class PermissiveTrustPolicy : public TrustPolicy {
 public:
  absl::Status Refresh(const v1::CheckResponse&) override {
    return absl::OkStatus();
  }
  absl::Status Authorize(const v1::UpdateEntry&) override {
    return absl::OkStatus();
  }
  absl::Status MarkInstalled(const v1::UpdateEntry&) override {
    return absl::OkStatus();
  }
};

// Until the server sends metadata: nothing can be verified.
class NoMetadataSource : public signing::MetadataSource {
 public:
  absl::StatusOr<std::string> Fetch(
      const signing::FetchRequest& request) override {
    // The root chain ends at the pinned root; everything else is missing.
    if (request.role == "root") {
      return absl::NotFoundError("no newer root");
    }
    return absl::UnavailableError(
        StrCat("the server sent no '", request.FileName(),
               "' (metadata delivery is not implemented yet)"));
  }
};

class TufTrustPolicy : public TrustPolicy {
 public:
  TufTrustPolicy(std::unique_ptr<signing::Verifier> verifier,
                 std::unique_ptr<signing::MetadataSource> source,
                 signing::DeviceInfo device)
      : verifier_(std::move(verifier)),
        source_(std::move(source)),
        device_(std::move(device)) {}

  absl::Status Refresh(const v1::CheckResponse&) override {
    refreshed_ = false;
    STRATA_RETURN_IF_ERROR(verifier_->Refresh(*source_));
    refreshed_ = true;
    return absl::OkStatus();
  }

  absl::Status Authorize(const v1::UpdateEntry& entry) override {
    STRATA_ASSIGN_OR_RETURN(signing::VerifiedTarget target, Resolve(entry));
    const v1::ArtifactStatement& st = entry.statement();
    if (target.sha256 != st.content_sha256() || target.length != st.size() ||
        !target.artifact.has_value() ||
        target.artifact->release_counter != entry.release_sequence()) {
      return signing::Reject(
          signing::RejectReason::kDirectorTargetMismatch,
          absl::StatusCode::kPermissionDenied,
          StrCat("the plan's ", entry.module().name(), " (sha256 ",
                 st.content_sha256(), ", ", st.size(), " bytes, release ",
                 entry.release_sequence(), ") differs from the signed target ",
                 target.name));
    }
    return absl::OkStatus();
  }

  absl::Status MarkInstalled(const v1::UpdateEntry& entry) override {
    STRATA_ASSIGN_OR_RETURN(signing::VerifiedTarget target, Resolve(entry));
    return verifier_->MarkInstalled(target);
  }

 private:
  absl::StatusOr<signing::VerifiedTarget> Resolve(
      const v1::UpdateEntry& entry) {
    if (!refreshed_) {
      return signing::Reject(signing::RejectReason::kMetadataUnavailable,
                             absl::StatusCode::kUnavailable,
                             "no verified metadata in this check");
    }
    absl::StatusOr<signing::VerifiedTarget> target = verifier_->ResolveModule(
        device_, static_cast<signing::Layer>(entry.module().layer()),
        entry.module().name());
    if (absl::IsNotFound(target.status()) &&
        !signing::GetRejectReason(target.status()).has_value()) {
      return signing::Reject(
          signing::RejectReason::kUnsignedDirectorTarget,
          absl::StatusCode::kPermissionDenied,
          StrCat("the signed director assigns nothing for ",
                 entry.module().name(), "; the plan's entry is not trusted"));
    }
    return target;
  }

  std::unique_ptr<signing::Verifier> verifier_;
  std::unique_ptr<signing::MetadataSource> source_;
  signing::DeviceInfo device_;
  bool refreshed_ = false;
};

}  // namespace

std::unique_ptr<TrustPolicy> NewPermissiveTrustPolicy() {
  return std::make_unique<PermissiveTrustPolicy>();
}

absl::StatusOr<std::unique_ptr<TrustPolicy>> NewTufTrustPolicy(
    const Env& env, TufTrustOptions options,
    std::unique_ptr<signing::MetadataSource> source) {
  signing::VerifierOptions vo;
  vo.state_dir = options.state_dir;
  vo.pinned_root = options.pinned_root_json;
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<signing::Verifier> verifier,
                          signing::Verifier::Open(env, std::move(vo)));
  if (source == nullptr) source = std::make_unique<NoMetadataSource>();
  signing::DeviceInfo d;
  d.app_id = options.app_id;
  d.device_id = options.device.device_id();
  d.user_id = options.device.user_id();
  d.app_version = options.device.app_version();
  d.host_build = options.device.host_build();
  d.runtime_version = options.device.runtime_version();
  d.sdk_version = options.device.sdk_version();
  return std::unique_ptr<TrustPolicy>(
      new TufTrustPolicy(std::move(verifier), std::move(source), std::move(d)));
}

}  // namespace strata::client
