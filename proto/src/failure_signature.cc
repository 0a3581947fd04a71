#include "strata/proto/failure_signature.h"

#include "strata/base/names.h"
#include "strata/base/sha256.h"
#include "strata/base/strings.h"

namespace strata {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

// Trims, collapses white space and, for frames, masks hex addresses.
std::string Squeeze(std::string_view in, bool mask_addresses) {
  std::string out;
  out.reserve(in.size());
  bool space = false;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (IsSpace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    if (mask_addresses && c == '0' && i + 2 < in.size() &&
        (in[i + 1] == 'x' || in[i + 1] == 'X') && IsHexDigit(in[i + 2])) {
      out += "0x?";
      i += 2;
      while (i + 1 < in.size() && IsHexDigit(in[i + 1])) ++i;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

absl::Status NormalizeFailureSignature(v1::FailureSignature& sig) {
  if (sig.kind() == v1::FailureSignature::KIND_UNSPECIFIED ||
      !v1::FailureSignature::Kind_IsValid(sig.kind())) {
    return absl::InvalidArgumentError(
        "failure signature has no valid kind; say crash, apply_failure, "
        "load_failure, hang or other");
  }
  sig.set_exception_type(Squeeze(sig.exception_type(), false));
  if (sig.exception_type().size() > kMaxFailureExceptionBytes) {
    return absl::InvalidArgumentError(
        StrCat("failure exception type is ", sig.exception_type().size(),
               " bytes; at most ", kMaxFailureExceptionBytes));
  }
  if (sig.top_frames_size() > kMaxFailureFrames) {
    return absl::InvalidArgumentError(
        StrCat("failure signature has ", sig.top_frames_size(),
               " frames; send the top ", kMaxFailureFrames, " only"));
  }
  google::protobuf::RepeatedPtrField<std::string> frames;
  for (const std::string& f : sig.top_frames()) {
    std::string n = Squeeze(f, true);
    if (n.empty()) continue;
    if (n.size() > kMaxFailureFrameBytes) {
      return absl::InvalidArgumentError(StrCat("a failure frame is ", n.size(),
                                               " bytes; at most ",
                                               kMaxFailureFrameBytes));
    }
    *frames.Add() = std::move(n);
  }
  sig.mutable_top_frames()->Swap(&frames);
  std::string hash = sig.host_hash();
  if (hash.size() > kMaxFailureHostHash) {
    return absl::InvalidArgumentError(
        StrCat("failure host hash is ", hash.size(), " characters; at most ",
               kMaxFailureHostHash));
  }
  for (char& c : hash) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return absl::InvalidArgumentError(
          "failure host hash has a character other than [0-9A-Za-z]");
    }
  }
  sig.set_host_hash(hash);
  if (sig.exception_type().empty() && sig.top_frames().empty() &&
      sig.host_hash().empty()) {
    return absl::InvalidArgumentError(
        "failure signature says nothing: give an exception type, top frames "
        "or a host hash");
  }
  if (sig.has_module() && !sig.module().name().empty()) {
    if (!v1::Layer_IsValid(sig.module().layer()) ||
        sig.module().layer() == v1::LAYER_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          "failure signature names a module without a valid layer");
    }
    if (absl::Status s = ValidateName("failure module", sig.module().name());
        !s.ok()) {
      return s;
    }
  } else if (sig.has_module() &&
             sig.module().layer() != v1::LAYER_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "failure signature names a layer without a module");
  }
  if (!sig.module_version().empty()) {
    if (absl::Status s =
            ValidateName("failure module version", sig.module_version());
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::string FailureSignatureId(const v1::FailureSignature& sig) {
  std::string text = "strata-failure-1\n";
  text +=
      StrCat(static_cast<int>(sig.kind()), "\n", sig.exception_type(), "\n");
  for (const std::string& f : sig.top_frames()) text += StrCat(f, "\n");
  text += StrCat("--\n", sig.host_hash(), "\n",
                 static_cast<int>(sig.module().layer()), "\n",
                 sig.module().name(), "\n");
  return Sha256::HexHash(text).substr(0, 16);
}

bool IsFailureSignatureId(std::string_view id) {
  if (id.size() != 16) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace strata
