#include "strata/server/storage/migrate.h"

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server {
namespace {

// The audit entry an imported write carries (Importing keeps none).
v1::AuditEntry Unrecorded() {
  v1::AuditEntry e;
  e.set_action("migrate");
  return e;
}

// Report ticket keys stratad uses (server/core report_ticket.h, kKeyId).
constexpr uint32_t kReportTicketKeyIds[] = {1};

class Migration {
 public:
  Migration(Store& from, Store& to, Random* random)
      : from_(from), to_(to), random_(random) {}

  absl::Status Run() {
    STRATA_ASSIGN_OR_RETURN(const bool has_tokens, to_.HasAnyToken());
    STRATA_ASSIGN_OR_RETURN(std::vector<v1::AuditEntry> audit,
                            to_.ListAudit(0, 1));
    if (has_tokens || !audit.empty()) {
      return absl::FailedPreconditionError(
          "the destination already holds Strata data (tokens or audit "
          "entries); migrate into an empty database (a new --metadata "
          "database or schema)");
    }
    STRATA_RETURN_IF_ERROR(to_.Importing([&] { return CopyState(); }));
    STRATA_RETURN_IF_ERROR(CopyReports());
    return CopyAudit();
  }

  const MigrateReport& report() const { return report_; }

 private:
  absl::Status CopyState() {
    STRATA_ASSIGN_OR_RETURN(std::vector<v1::StoredArtifact> artifacts,
                            from_.ListArtifacts(""));
    std::map<std::string, v1::ModuleId> modules;
    for (const v1::StoredArtifact& a : artifacts) {
      apps_.insert(a.statement().app_id());
      modules.emplace(StrCat(a.statement().app_id(), "/",
                             static_cast<int>(a.statement().module().layer()),
                             "/", a.statement().module().name()),
                      a.statement().module());
      STRATA_RETURN_IF_ERROR(CopyArtifact(a));
    }
    for (const auto& [key, module] : modules) {
      const std::string app = key.substr(0, key.find('/'));
      STRATA_ASSIGN_OR_RETURN(std::optional<v1::ModuleSchema> schema,
                              from_.GetModuleSchema(app, module));
      if (!schema.has_value()) continue;
      STRATA_RETURN_IF_ERROR(to_.PutModuleSchema(*schema, Unrecorded()));
      ++report_.schemas;
    }
    STRATA_ASSIGN_OR_RETURN(std::vector<v1::Release> releases,
                            from_.ListAllReleases());
    for (const v1::Release& r : releases) apps_.insert(r.app_id());
    STRATA_RETURN_IF_ERROR(to_.ImportReleases(releases));
    report_.releases = releases.size();
    STRATA_RETURN_IF_ERROR(CopyTrust());
    for (const std::string& app : apps_) {
      STRATA_ASSIGN_OR_RETURN(std::vector<v1::Segment> segments,
                              from_.ListSegments(app));
      for (const v1::Segment& s : segments) {
        STRATA_RETURN_IF_ERROR(to_.PutSegment(s, Unrecorded()));
        ++report_.segments;
      }
    }
    STRATA_ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens,
                            from_.ListTokens());
    for (const TokenRecord& t : tokens) {
      STRATA_RETURN_IF_ERROR(
          to_.PutToken(t.secret_sha256, t.token, Unrecorded()));
      ++report_.tokens;
    }
    for (uint32_t id : kReportTicketKeyIds) {
      std::string candidate(32, '\0');
      random_->Fill(candidate.data(), candidate.size());
      STRATA_ASSIGN_OR_RETURN(std::string key,
                              from_.GetOrCreateReportTicketKey(id, candidate));
      STRATA_RETURN_IF_ERROR(to_.GetOrCreateReportTicketKey(id, key).status());
    }
    return absl::OkStatus();
  }

  absl::Status CopyArtifact(const v1::StoredArtifact& a) {
    const std::string& sha = a.statement().content_sha256();
    STRATA_ASSIGN_OR_RETURN(std::optional<BlobManifest> blob,
                            from_.GetBlobManifest(sha));
    BlobManifest manifest;  // none: the content was deleted
    if (blob.has_value()) {
      for (const BlobChunk& c : blob->chunks) {
        if (!copied_chunks_.insert(c.sha256).second) continue;
        STRATA_ASSIGN_OR_RETURN(std::string bytes, from_.ReadChunk(c.sha256));
        STRATA_ASSIGN_OR_RETURN(BlobChunk put, to_.PutChunk(bytes));
        if (put.sha256 != c.sha256) {
          return absl::DataLossError(StrCat("chunk ", c.sha256, " of blob ",
                                            sha, " reads back as ", put.sha256,
                                            "; the source is corrupt"));
        }
        ++report_.chunks;
        report_.chunk_bytes += bytes.size();
      }
      manifest = *blob;
    } else if (!a.content_deleted()) {
      return absl::DataLossError(
          StrCat("artifact ", a.statement().module().name(), " ",
                 a.statement().version(), " of app ", a.statement().app_id(),
                 " has no blob ", sha, " in the source"));
    }
    std::optional<v1::IdempotencyRecord> idempotency;
    if (!a.idempotency_key().empty()) {
      STRATA_ASSIGN_OR_RETURN(
          idempotency,
          from_.GetIdempotency(a.statement().app_id(), a.idempotency_key()));
    }
    STRATA_RETURN_IF_ERROR(to_.PutArtifact(
        a, manifest, idempotency.has_value() ? &*idempotency : nullptr,
        Unrecorded()));
    ++report_.artifacts;
    return absl::OkStatus();
  }

  absl::Status CopyTrust() {
    STRATA_ASSIGN_OR_RETURN(std::vector<std::string> apps,
                            from_.ListTrustApps());
    for (const std::string& app : apps) {
      apps_.insert(app);
      STRATA_ASSIGN_OR_RETURN(std::vector<TrustFile> newest,
                              from_.ListTrustFiles(app));
      std::vector<TrustFile> files;
      std::set<std::pair<std::string, uint64_t>> have;
      for (const TrustFile& f : newest) {
        if (KeepsTrustHistory(f.role)) {
          // Every older version too (roots, targets, snapshots).
          for (uint64_t v = 1; v < f.version; ++v) {
            if (have.count({f.role, v}) > 0) continue;
            STRATA_ASSIGN_OR_RETURN(std::optional<std::string> old,
                                    from_.GetTrustFile(app, f.role, v));
            if (!old.has_value()) continue;
            files.push_back({f.role, v, *std::move(old)});
            have.insert({f.role, v});
          }
        }
        if (have.insert({f.role, f.version}).second) files.push_back(f);
      }
      // Oldest first: a role that keeps only its newest file ends on it.
      std::stable_sort(files.begin(), files.end(),
                       [](const TrustFile& a, const TrustFile& b) {
                         return a.version < b.version;
                       });
      STRATA_RETURN_IF_ERROR(to_.PutTrustFiles(app, files, std::nullopt));
      report_.trust_files += files.size();
    }
    return absl::OkStatus();
  }

  absl::Status CopyReports() {
    std::map<std::string, std::vector<v1::StoredReport>> batch;
    size_t held = 0;
    absl::Status failed;
    auto flush = [&]() -> absl::Status {
      for (auto& [app, reports] : batch) {
        STRATA_RETURN_IF_ERROR(to_.ImportReports(app, reports));
        report_.reports += reports.size();
      }
      batch.clear();
      held = 0;
      return absl::OkStatus();
    };
    STRATA_RETURN_IF_ERROR(from_.ForEachReport(
        [&](std::string_view app, const v1::StoredReport& r) {
          batch[std::string(app)].push_back(r);
          if (++held >= 1000) failed = flush();
          return failed.ok();
        }));
    STRATA_RETURN_IF_ERROR(failed);
    STRATA_RETURN_IF_ERROR(flush());
    if (report_.reports > 0) {
      // The first replica to start rebuilds the aggregates from them.
      STRATA_RETURN_IF_ERROR(to_.BeginHealthRebuild());
    }
    return absl::OkStatus();
  }

  absl::Status CopyAudit() {
    uint64_t after = 0;
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(std::vector<v1::AuditEntry> page,
                              from_.ListAudit(after, 1000));
      if (page.empty()) return absl::OkStatus();
      STRATA_RETURN_IF_ERROR(
          Annotate(to_.ImportAudit(page),
                   StrCat("copying audit entries ", page.front().seq(), "-",
                          page.back().seq())));
      after = page.back().seq();
      report_.audit_entries += page.size();
    }
  }

  Store& from_;
  Store& to_;
  Random* random_;
  std::set<std::string> apps_;
  std::set<std::string> copied_chunks_;
  MigrateReport report_;
};

}  // namespace

std::string MigrateReport::Summary() const {
  return StrCat(artifacts, " artifacts (", chunks, " chunks, ", chunk_bytes,
                " bytes), ", schemas, " schemas, ", releases, " releases, ",
                segments, " segments, ", trust_files, " trust files, ", tokens,
                " tokens, ", reports, " reports, ", audit_entries,
                " audit entries");
}

absl::StatusOr<MigrateReport> MigrateStore(Store& from, Store& to,
                                           Random* random) {
  Migration m(from, to, random);
  STRATA_RETURN_IF_ERROR(m.Run());
  return m.report();
}

}  // namespace strata::server
