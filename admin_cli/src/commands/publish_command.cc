// strata publish: upload one artifact version.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "../app_trust.h"
#include "layer_flag.h"
#include "strata/admin_cli/admin_client.h"
#include "strata/admin_cli/cli_context.h"
#include "strata/admin_cli/render.h"
#include "strata/admin_cli/tree_archive.h"
#include "strata/base/env.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/statement_signing.h"
#include "strata/signing/keys.h"
#include "strata/signing/metadata.h"
#include "strata/signing/verifier.h"

namespace strata::admin {
namespace {

struct PublishFlags {
  std::string app, layer, module, version, file, host_build, idempotency_key;
  std::vector<std::string> keys;
  bool embedded = false;
  std::string dir;
};

// On an app with a root of trust: the layer role with one more target for
// this content, as its next version, signed by the --key keys. "" when the
// role already lists this very content (a repeated publish).
struct RoleForPublish {
  std::string bytes;
  std::string target;    // "h5/mall-home@3"
  uint64_t version = 0;  // of the role
  std::string existing;  // the target already listing this content
};

absl::StatusOr<RoleForPublish> NextRole(
    const PublishFlags& f, const AppTrust& trust, std::string_view content,
    const std::string& sha256,
    const std::vector<const signing::PrivateKey*>& signers) {
  signing::TargetsMetadata role = trust.Role(f.layer);
  RoleForPublish out;
  out.existing =
      FindTargetFor(role, f.module, f.version, sha256, content.size());
  if (!out.existing.empty()) return out;
  for (const auto& [name, file] : role.targets) {
    if (file.artifact.has_value() && file.artifact->module == f.module &&
        file.artifact->version_label == f.version) {
      auto hash = file.hashes.find("sha256");
      return absl::AlreadyExistsError(StrCat(
          f.layer, "/", f.module, " version ", f.version,
          " is already published with other content (sha256 ",
          hash == file.hashes.end() ? "?" : hash->second, ", target ", name,
          "); versions are immutable: publish this content as a new "
          "--version"));
    }
  }
  signing::ArtifactInfo info;
  info.app_id = f.app;
  info.layer = *signing::ParseLayer(f.layer);
  info.module = f.module;
  info.release_counter = HighestCounter(role, f.module) + 1;
  info.version_label = f.version;
  info.compat.host_build = f.host_build;
  out.target = signing::TargetName(info.layer, f.module, info.release_counter);
  role.targets[out.target] = signing::TargetFileFor(content, info);
  out.version = role.common.version + 1;
  STRATA_ASSIGN_OR_RETURN(
      out.bytes,
      SignNextVersion(std::move(role), absl::Now(), kDefaultRoleDays, signers));
  return out;
}

absl::Status DoPublish(const PublishFlags& f, CliContext& ctx) {
  // A directory is published as a deterministic ustar archive of its tree.
  absl::StatusOr<std::string> content =
      f.dir.empty() ? PosixFileSystem()->ReadFile(f.file)
                    : ArchiveTree(*PosixFileSystem(), f.dir);
  if (!content.ok()) {
    return absl::InvalidArgumentError(
        StrCat("cannot read ", f.dir.empty() ? "--file" : "--dir", ": ",
               ToStd(content.status().message())));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<signing::PrivateKey> keys,
                          LoadKeyFiles(f.keys, "--key"));
  v1::ArtifactStatement st;
  st.set_app_id(f.app);
  st.mutable_module()->set_layer(LayerNames().at(f.layer));
  st.mutable_module()->set_name(f.module);
  st.set_version(f.version);
  st.mutable_compatibility()->set_host_build(f.host_build);
  // Sign the statement here: private keys never leave this machine.
  const std::string sha256 = Sha256::HexHash(*content);
  st.set_content_sha256(sha256);
  st.set_size(content->size());
  std::vector<v1::Signature> signatures;
  for (const signing::PrivateKey& key : keys) {
    STRATA_ASSIGN_OR_RETURN(std::string sig,
                            key.Sign(StatementSigningBytes(st)));
    v1::Signature& s = signatures.emplace_back();
    s.set_key_id(key.KeyId());
    s.set_signature(sig);
  }
  AdminClient client = ctx.Client();
  // An app with a root of trust takes a publish only with its layer role
  // re-signed by the layer's publishers: checked here before uploading.
  STRATA_ASSIGN_OR_RETURN(AppTrust trust, ReadAppTrustIfAny(client, f.app));
  std::vector<const signing::PrivateKey*> signers;
  if (trust.configured()) {
    if (keys.empty()) {
      return absl::InvalidArgumentError(StrCat(
          "app ", f.app, " has a root of trust: sign the publish with --key ",
          "FILE, the ", f.layer, " publisher key",
          f.layer == "hotpatch" || f.layer == "native"
              ? " (twice: --key A --key B, both publishers)"
              : "",
          ", e.g. --key ~/", f.app, "-keys/publisher-a.key"));
    }
    if (f.layer == "hotpatch" && f.host_build.empty()) {
      return absl::InvalidArgumentError(
          "a hotpatch needs --host-build: the one host build it applies to");
    }
    STRATA_ASSIGN_OR_RETURN(
        signers, SigningKeysFor(trust.targets, f.layer, keys, "--key"));
  }
  // A progress bar only for a person watching: stderr is a terminal and the
  // output is text. Redrawn at most every 100 ms, and once at the end.
  const bool show_progress =
      !ctx.json() && ::isatty(STDERR_FILENO) && content->size() > (256u << 10);
  absl::Time start = absl::Now();
  absl::Time last_draw = absl::InfinitePast();
  ProgressFn progress;
  if (show_progress) {
    progress = [&](uint64_t done, uint64_t total) {
      const absl::Time now = absl::Now();
      if (done < total && now - last_draw < absl::Milliseconds(100)) return;
      last_draw = now;
      std::cerr << "\r" << ProgressLine(done, total, now - start) << "\x1b[K"
                << (done == total ? "\n" : "") << std::flush;
    };
  }
  const std::string idempotency_key =
      f.idempotency_key.empty() ? StrCat(f.app, "/", f.module, "/", f.version)
                                : f.idempotency_key;
  const std::string what = StrCat(f.layer, "/", f.module, " ", f.version);
  if (!trust.configured()) {
    STRATA_ASSIGN_OR_RETURN(v1::PublishResponse result,
                            client.Publish(st, *content, idempotency_key,
                                           progress, signatures, f.embedded));
    ctx.Print(
        result,
        StrCat(result.already_existed() ? "already published: " : "published: ",
               what, " (", result.statement().size(), " bytes, sha256 ",
               result.statement().content_sha256(), ")\n"));
    return absl::OkStatus();
  }
  // Compare-and-swap on the role: when another publish got there first
  // (ABORTED), read the role again, re-sign, send again.
  for (int attempt = 0;; ++attempt) {
    STRATA_ASSIGN_OR_RETURN(RoleForPublish role,
                            NextRole(f, trust, *content, sha256, signers));
    if (!role.existing.empty()) {
      // The role already lists this content: stratad stored it with the
      // role, so there is nothing to upload.
      v1::PublishResponse result;
      *result.mutable_statement() = st;
      result.set_already_existed(true);
      ctx.Print(result, StrCat("already published: ", what, " (target ",
                               role.existing, ", sha256 ", sha256, ")\n"));
      return absl::OkStatus();
    }
    start = absl::Now();
    absl::StatusOr<v1::PublishResponse> result =
        client.Publish(st, *content, idempotency_key, progress, signatures,
                       f.embedded, role.bytes);
    if (result.ok()) {
      ctx.Print(
          *result,
          StrCat(
              result->already_existed() ? "already published: " : "published: ",
              what, " (", result->statement().size(), " bytes, sha256 ",
              result->statement().content_sha256(), ") as target ", role.target,
              " in ", f.layer, " role v", role.version, "\n"));
      return absl::OkStatus();
    }
    if (result.status().code() != absl::StatusCode::kAborted ||
        attempt == kCasRetries) {
      return result.status();
    }
    if (!ctx.json()) {
      std::cerr << "strata: the " << f.layer
                << " role changed since it was read; signing again\n";
    }
    STRATA_ASSIGN_OR_RETURN(trust, ReadAppTrust(client, f.app));
  }
}

void RunPublish(const PublishFlags& f, CliContext& ctx) {
  absl::Status s = DoPublish(f, ctx);
  if (!s.ok()) ctx.Fail(s);
}

}  // namespace

void AddPublishCommand(CLI::App& app, CliContext& ctx) {
  auto flags = std::make_shared<PublishFlags>();
  CLI::App* cmd = app.add_subcommand(
      "publish",
      "Upload one version of a module (or a directory tree), signed here\n"
      "with the layer's publisher key(s): on an app with a root of trust the\n"
      "layer's role gets a target <layer>/<module>@<counter> (counter one\n"
      "above the module's highest) and is re-signed with the --key keys. On\n"
      "a terminal, a progress bar on stderr shows large uploads (never with\n"
      "--output json).\n\n"
      "Example:\n"
      "  strata publish --app wallet --layer config --module payment.limits "
      "\\\n"
      "      --version 3 --file limits.json --key "
      "~/strata-keys/publisher-a.key\n"
      "  strata publish --app wallet --layer h5 --module mall-home "
      "--version 12 \\\n"
      "      --dir dist/ --key ~/strata-keys/publisher-a.key\n"
      "Publishing the same version with the same content again is a no-op;\n"
      "with different content it is refused (versions are immutable).");
  AddAppOption(cmd, flags->app, ctx);
  cmd->add_option("--layer", flags->layer,
                  "config, h5, hcf, hotpatch or native")
      ->required()
      ->check(CLI::IsMember({"config", "h5", "hcf", "hotpatch", "native"}));
  cmd->add_option("--module", flags->module, "module name")->required();
  cmd->add_option("--version", flags->version,
                  "version label, e.g. 3 or 10.3.1")
      ->required();
  CLI::Option* file =
      cmd->add_option("--file", flags->file, "the content to upload");
  CLI::Option* dir = cmd->add_option(
      "--dir", flags->dir,
      "a directory tree to upload (H5 package, HCF module, bundle); unchanged "
      "files are stored once across versions");
  file->excludes(dir);
  dir->excludes(file);
  cmd->callback([flags, &ctx, file, dir] {
    if (file->count() + dir->count() != 1) {
      ctx.Fail(absl::InvalidArgumentError("give --file or --dir"));
      return;
    }
    RunPublish(*flags, ctx);
  });
  cmd->add_flag("--embedded", flags->embedded,
                "this is the content the app ships with: never released, used "
                "as a delta base for later versions");
  cmd->add_option("--host-build", flags->host_build,
                  "hotpatches: the one host build they apply to");
  cmd->add_option(
      "--key", flags->keys,
      "publisher private key to sign with (repeat for layers that need "
      "two signatures); required on an app with a root of trust");
  cmd->add_option("--idempotency-key", flags->idempotency_key,
                  "retry key (default: app/module/version)");
}

}  // namespace strata::admin
