#include "strata/server/storage/store.h"

#include <sys/stat.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <set>
#include <unordered_set>

#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "store_internal.h"
#include "strata/base/mutex.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"
#include "strata/proto/audit_chain.h"

namespace strata::server {
namespace {

constexpr char kBlobs[] =
    "blobs";  // c/<chunk sha> chunks, m/<blob sha> manifests
constexpr char kArtifacts[] = "artifacts";
constexpr char kReleases[] = "releases";
constexpr char kMeta[] = "meta";
constexpr char kTokens[] = "tokens";
constexpr char kAudit[] = "audit";
constexpr char kReports[] = "reports";
// <app>/<sha256 hex of the device id>/<event id> -> the report's key: one
// marker per stored report event, for deduplication.
constexpr char kReportIds[] = "report_ids";
constexpr char kSegments[] = "segments";
// <app>/<role>/<padded version>: signed TUF metadata of each app.
constexpr char kTrust[] = "trust";
// Release health aggregates (HealthBucket), keyed by window and hour;
// values are StoredHealthFigures, added together by SumHealthFigures.
constexpr char kHealth[] = "health";
// Per-device marks (HealthMarks), keyed by window and device key.
constexpr char kHealthMarks[] = "health_marks";
// Meta keys: the highest report sequence number (merged by MaxCounter),
// and the mark that the health aggregates are complete.
constexpr char kReportSeqKey[] = "report_seq";
constexpr char kHealthBuiltKey[] = "health_built";

// Free space the data directory's disk needs before writes resume after
// it was full (RocksDB first flushes its memtables, up to 64 MB each).
constexpr uint64_t kFreeBytesToResume = 256ull << 20;

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsNoSpace()) {
    return absl::ResourceExhaustedError(StrCat(
        what, ": the disk holding the data directory is full (", s.ToString(),
        "); free space there: writes resume by themselves, and nothing "
        "acknowledged was lost"));
  }
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::UnavailableError(msg);
}

using internal::ModuleKey;

std::string Padded(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64, v);
  return buf;
}

rocksdb::Slice ToSlice(std::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

template <typename Proto>
absl::StatusOr<Proto> ParseRecord(const rocksdb::Slice& value,
                                  std::string_view what) {
  Proto p;
  if (!p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(
        StrCat(what, " is corrupt; restore the data directory from a backup"));
  }
  return p;
}

// Big-endian, so keys sort by number.
void AppendBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

uint64_t ReadBigEndian(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v = (v << 8) | static_cast<uint8_t>(in[at + static_cast<size_t>(i)]);
  }
  return v;
}

// release (8) | cohort (1) | stage (4): 13 bytes.
constexpr size_t kWindowKeyBytes = 13;

std::string WindowKey(const HealthWindow& w) {
  std::string key;
  key.reserve(kWindowKeyBytes + 8);
  AppendBigEndian(key, w.release_id, 8);
  AppendBigEndian(key, static_cast<uint8_t>(w.cohort), 1);
  AppendBigEndian(key, static_cast<uint32_t>(w.stage), 4);
  return key;
}

HealthWindow ParseWindowKey(std::string_view key) {
  HealthWindow w;
  w.release_id = ReadBigEndian(key, 0, 8);
  w.cohort = static_cast<int32_t>(ReadBigEndian(key, 8, 1));
  w.stage =
      static_cast<int32_t>(static_cast<uint32_t>(ReadBigEndian(key, 9, 4)));
  return w;
}

std::string MarksKey(const HealthMarks& m) {
  std::string key = WindowKey(m.window);
  AppendBigEndian(key, m.device, 8);
  return key;
}

std::string BucketKey(const HealthBucket& b) {
  std::string key = WindowKey(b.window);
  // Sign bit flipped: earlier hours sort first, before 1970 too.
  AppendBigEndian(key, static_cast<uint64_t>(b.hour_unix) ^ (uint64_t{1} << 63),
                  8);
  return key;
}

// Adds stored health figures (StoredHealthFigures) together: a bucket's
// value is the sum of every change merged into it.
class SumHealthFigures : public rocksdb::AssociativeMergeOperator {
 public:
  const char* Name() const override { return "StrataSumHealthFigures"; }
  bool Merge(const rocksdb::Slice& /*key*/,
             const rocksdb::Slice* existing_value, const rocksdb::Slice& value,
             std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    v1::StoredHealthFigures sum, delta;
    if (existing_value != nullptr &&
        !sum.ParseFromArray(existing_value->data(),
                            static_cast<int>(existing_value->size()))) {
      return false;
    }
    if (!delta.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return false;
    }
    AddHealthFigures(sum, delta);
    return sum.SerializeToString(new_value);
  }
};

// The larger of two decimal counters (the report sequence high-water
// mark: concurrent reports merge their numbers in any order).
class MaxCounter : public rocksdb::AssociativeMergeOperator {
 public:
  const char* Name() const override { return "StrataMaxCounter"; }
  bool Merge(const rocksdb::Slice& /*key*/,
             const rocksdb::Slice* existing_value, const rocksdb::Slice& value,
             std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    uint64_t a = 0, b = 0;
    if (existing_value != nullptr && !ParseCounter(*existing_value, &a)) {
      return false;
    }
    if (!ParseCounter(value, &b)) return false;
    *new_value = std::to_string(std::max(a, b));
    return true;
  }
  static bool ParseCounter(const rocksdb::Slice& s, uint64_t* out) {
    if (s.empty() || s.size() > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    *out = v;
    return true;
  }
};

// RocksDB would retry a write stopped by a full disk on its own thread,
// polling every few seconds; Store resumes instead, on the next write once
// there is room, so the first write after space returns succeeds.
class ResumeOnNextWrite : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "StrataResumeOnNextWrite"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/,
                            rocksdb::Status /*bg_error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

class RocksStore : public Store {
 public:
  RocksStore(std::string dir, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : dir_(std::move(dir)),
        db_(std::move(db)),
        handles_(std::move(handles)) {}
  ~RocksStore() override {
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }

  absl::Status LoadAuditHead() {
    MutexLock lock(&write_mu_);  // at open, before the store is shared
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kMeta), "audit_head", &value);
    if (s.IsNotFound()) return absl::OkStatus();
    STRATA_RETURN_IF_ERROR(FromRocks(s, "reading the audit head"));
    size_t space = value.find(' ');
    if (space == std::string::npos) {
      return absl::DataLossError("audit head record is corrupt");
    }
    audit_seq_ = std::stoull(value.substr(0, space));
    audit_hash_ = value.substr(space + 1);
    return absl::OkStatus();
  }

  // ---------------------------------------------------------------- blobs

  absl::StatusOr<BlobChunk> PutChunk(std::string_view data) override {
    BlobChunk chunk{Sha256::HexHash(data), data.size()};
    const std::string value = internal::EncodeChunk(data);
    STRATA_RETURN_IF_ERROR(ResumeWrites("storing a blob chunk"));
    rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), cf(kBlobs),
                                 StrCat("c/", chunk.sha256), value);
    if (s.IsIOError()) writes_stopped_.store(true);
    STRATA_RETURN_IF_ERROR(FromRocks(s, "storing a blob chunk"));
    return chunk;
  }

  absl::StatusOr<std::string> ReadChunk(
      std::string_view chunk_sha256) override {
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kBlobs),
                                 StrCat("c/", chunk_sha256), &value);
    if (s.IsNotFound()) {
      return absl::DataLossError(
          StrCat("blob chunk ", chunk_sha256, " is missing"));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(s, "reading a blob chunk"));
    return internal::DecodeChunk(std::string_view(value.data(), value.size()),
                                 chunk_sha256);
  }

  absl::StatusOr<std::optional<BlobManifest>> GetBlobManifest(
      std::string_view sha256) override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kBlobs),
                                 StrCat("m/", sha256), &value);
    if (s.IsNotFound()) return std::nullopt;
    STRATA_RETURN_IF_ERROR(FromRocks(s, "reading a blob manifest"));
    STRATA_ASSIGN_OR_RETURN(v1::StoredBlob stored, ParseRecord<v1::StoredBlob>(
                                                       value, "blob manifest"));
    return internal::FromStoredBlob(sha256, stored);
  }

  absl::StatusOr<std::string> ReadBlob(std::string_view sha256, uint64_t offset,
                                       uint64_t max_bytes) override {
    return internal::ReadBlobOf(*this, sha256, offset, max_bytes);
  }

  absl::StatusOr<GarbageReport> CollectGarbage() override {
    MutexLock lock(&write_mu_);
    std::unordered_set<std::string> referenced;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kBlobs)));
    for (it->Seek("m/"); it->Valid() && it->key().starts_with("m/");
         it->Next()) {
      STRATA_ASSIGN_OR_RETURN(
          v1::StoredBlob stored,
          ParseRecord<v1::StoredBlob>(it->value(), "blob manifest"));
      for (const auto& c : stored.chunks()) referenced.insert(c.sha256());
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "scanning blob manifests"));
    GarbageReport report;
    rocksdb::WriteBatch batch;
    for (it->Seek("c/"); it->Valid() && it->key().starts_with("c/");
         it->Next()) {
      std::string sha = it->key().ToString().substr(2);
      if (!referenced.count(sha)) {
        batch.Delete(cf(kBlobs), it->key());
        ++report.chunks_removed;
        report.bytes_removed += it->value().size();
      }
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "scanning blob chunks"));
    if (report.chunks_removed > 0)
      STRATA_RETURN_IF_ERROR(Write(batch, "removing orphans"));
    return report;
  }

  // ------------------------------------------------------------ artifacts

  absl::Status PutArtifact(const v1::StoredArtifact& artifact,
                           const BlobManifest& blob,
                           const v1::IdempotencyRecord* idempotency,
                           v1::AuditEntry audit,
                           const std::vector<TrustFile>* trust) override {
    const auto& st = artifact.statement();
    const v1::StoredBlob stored = internal::ToStoredBlob(blob);
    MutexLock lock(&write_mu_);
    rocksdb::WriteBatch batch;
    batch.Put(cf(kBlobs), StrCat("m/", blob.sha256),
              stored.SerializeAsString());
    batch.Put(cf(kArtifacts),
              ArtifactKey(st.app_id(), st.module(), st.version()),
              artifact.SerializeAsString());
    if (idempotency != nullptr && !artifact.idempotency_key().empty()) {
      batch.Put(cf(kMeta),
                IdempotencyKey(st.app_id(), artifact.idempotency_key()),
                idempotency->SerializeAsString());
    }
    if (trust != nullptr) {
      STRATA_RETURN_IF_ERROR(AddTrustFiles(batch, st.app_id(), *trust));
    }
    return CommitWithAudit(batch, std::move(audit), "storing artifact");
  }

  absl::StatusOr<std::optional<v1::StoredArtifact>> GetArtifact(
      std::string_view app_id, const v1::ModuleId& module,
      std::string_view version) override {
    return GetRecord<v1::StoredArtifact>(
        kArtifacts, ArtifactKey(app_id, module, version),
        StrCat("artifact record of version ", version));
  }

  absl::StatusOr<std::vector<v1::StoredArtifact>> ListArtifacts(
      std::string_view app_id) override {
    std::vector<v1::StoredArtifact> out;
    const std::string prefix = app_id.empty() ? "" : StrCat(app_id, "/");
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kArtifacts)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      STRATA_ASSIGN_OR_RETURN(
          v1::StoredArtifact a,
          ParseRecord<v1::StoredArtifact>(it->value(), "artifact record"));
      out.push_back(std::move(a));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing artifacts"));
    return out;
  }

  absl::StatusOr<std::optional<v1::IdempotencyRecord>> GetIdempotency(
      std::string_view app_id, std::string_view key) override {
    return GetRecord<v1::IdempotencyRecord>(kMeta, IdempotencyKey(app_id, key),
                                            "idempotency record");
  }

  absl::Status YankArtifact(const v1::StoredArtifact& artifact,
                            const std::vector<v1::Release>& halted,
                            v1::AuditEntry audit) override {
    const auto& st = artifact.statement();
    MutexLock lock(&write_mu_);
    rocksdb::WriteBatch batch;
    batch.Put(cf(kArtifacts),
              ArtifactKey(st.app_id(), st.module(), st.version()),
              artifact.SerializeAsString());
    for (const v1::Release& r : halted) {
      batch.Put(cf(kReleases),
                StrCat("rel/", r.app_id(), "/", Padded(r.release_id())),
                r.SerializeAsString());
    }
    return CommitWithAudit(batch, std::move(audit), "storing a yank");
  }

  absl::StatusOr<std::string> DeleteArtifactContent(
      std::string_view sha256,
      const std::function<absl::StatusOr<std::string>(
          std::vector<v1::StoredArtifact>*)>& still_needed,
      v1::AuditEntry audit) override {
    const std::string sha(sha256);
    MutexLock lock(&write_mu_);
    std::vector<v1::StoredArtifact> mark;
    STRATA_ASSIGN_OR_RETURN(std::string keep, still_needed(&mark));
    if (!keep.empty()) return keep;
    rocksdb::WriteBatch batch;
    batch.Delete(cf(kBlobs), StrCat("m/", sha));
    // Deltas to the content would rebuild it from an older version: they
    // go too (deltas from it stay: devices that run it still update).
    std::set<std::string> drop_patches, keep_patches;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kMeta)));
    for (it->Seek("delta/"); it->Valid() && it->key().starts_with("delta/");
         it->Next()) {
      STRATA_ASSIGN_OR_RETURN(
          v1::StoredDelta d,
          ParseRecord<v1::StoredDelta>(it->value(), "delta record"));
      const bool drop = d.to_sha256() == sha;
      if (drop) batch.Delete(cf(kMeta), it->key());
      for (std::string& patch : internal::PatchesOf(d)) {
        (drop ? drop_patches : keep_patches).insert(std::move(patch));
      }
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "scanning deltas"));
    for (const std::string& patch : drop_patches) {
      if (!keep_patches.count(patch) && patch != sha) {
        batch.Delete(cf(kBlobs), StrCat("m/", patch));
      }
    }
    for (const v1::StoredArtifact& a : mark) {
      const auto& st = a.statement();
      batch.Put(cf(kArtifacts),
                ArtifactKey(st.app_id(), st.module(), st.version()),
                a.SerializeAsString());
    }
    STRATA_RETURN_IF_ERROR(
        CommitWithAudit(batch, std::move(audit), "deleting yanked content"));
    return std::string();
  }

  absl::Status PutModuleSchema(const v1::ModuleSchema& schema,
                               v1::AuditEntry audit) override {
    MutexLock lock(&write_mu_);
    rocksdb::WriteBatch batch;
    const std::string key = SchemaKey(schema.app_id(), schema.module());
    if (schema.schema().empty()) {
      batch.Delete(cf(kMeta), key);
    } else {
      batch.Put(cf(kMeta), key, schema.SerializeAsString());
    }
    return CommitWithAudit(batch, std::move(audit), "storing a module schema");
  }

  absl::StatusOr<std::optional<v1::ModuleSchema>> GetModuleSchema(
      std::string_view app_id, const v1::ModuleId& module) override {
    return GetRecord<v1::ModuleSchema>(kMeta, SchemaKey(app_id, module),
                                       "module schema");
  }

  // ---------------------------------------------------------- delta cache

  absl::Status PutDelta(const v1::StoredDelta& delta, const BlobManifest* patch,
                        const BlobManifest* tree_patch) override {
    rocksdb::WriteBatch batch;
    for (const BlobManifest* blob : {patch, tree_patch}) {
      if (blob == nullptr) continue;
      const v1::StoredBlob stored = internal::ToStoredBlob(*blob);
      batch.Put(cf(kBlobs), StrCat("m/", blob->sha256),
                stored.SerializeAsString());
    }
    batch.Put(cf(kMeta),
              StrCat("delta/", delta.from_sha256(), "/", delta.to_sha256()),
              delta.SerializeAsString());
    return Write(batch, "storing a delta");
  }

  absl::StatusOr<std::optional<v1::StoredDelta>> GetDelta(
      std::string_view from_sha256, std::string_view to_sha256) override {
    return GetRecord<v1::StoredDelta>(
        kMeta, StrCat("delta/", from_sha256, "/", to_sha256), "delta record");
  }

  // ---------------------------------------------------------------- trust

  absl::Status PutTrustFiles(std::string_view app_id,
                             const std::vector<TrustFile>& files,
                             std::optional<v1::AuditEntry> audit) override {
    MutexLock lock(&write_mu_);
    rocksdb::WriteBatch batch;
    STRATA_RETURN_IF_ERROR(AddTrustFiles(batch, app_id, files));
    if (audit.has_value()) {
      return CommitWithAudit(batch, *std::move(audit),
                             "storing trust metadata");
    }
    return Write(batch, "storing trust metadata");
  }

  absl::StatusOr<std::vector<TrustFile>> ListTrustFiles(
      std::string_view app_id) override {
    std::vector<TrustFile> out;
    const std::string prefix = StrCat(app_id, "/");
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kTrust)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      const std::string key = it->key().ToString().substr(prefix.size());
      const size_t slash = key.rfind('/');
      if (slash == std::string::npos) {
        return absl::DataLossError(StrCat("trust record key ", key, " of app ",
                                          app_id, " is corrupt"));
      }
      TrustFile f;
      f.role = key.substr(0, slash);
      f.version = std::stoull(key.substr(slash + 1));
      f.content = it->value().ToString();
      // Keys sort by role, then version: keep every root, and of the
      // other roles only the last (newest) version.
      if (f.role != "root" && !out.empty() && out.back().role == f.role) {
        out.back() = std::move(f);
      } else {
        out.push_back(std::move(f));
      }
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing trust metadata"));
    return out;
  }

  absl::StatusOr<std::optional<std::string>> GetTrustFile(
      std::string_view app_id, std::string_view role,
      uint64_t version) override {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kTrust),
                 StrCat(app_id, "/", role, "/", Padded(version)), &value);
    if (s.IsNotFound()) return std::nullopt;
    STRATA_RETURN_IF_ERROR(FromRocks(s, "reading trust metadata"));
    return value;
  }

  absl::StatusOr<std::vector<std::string>> ListTrustApps() override {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kMeta)));
    constexpr std::string_view kPrefix = "trust_app/";
    for (it->Seek(rocksdb::Slice(kPrefix.data(), kPrefix.size()));
         it->Valid() &&
         it->key().starts_with(rocksdb::Slice(kPrefix.data(), kPrefix.size()));
         it->Next()) {
      out.push_back(it->key().ToString().substr(kPrefix.size()));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing trust apps"));
    return out;
  }

  // ------------------------------------------------------------ segments

  absl::Status PutSegment(const v1::Segment& segment,
                          v1::AuditEntry audit) override {
    MutexLock lock(&write_mu_);
    rocksdb::WriteBatch batch;
    batch.Put(cf(kSegments), StrCat(segment.app_id(), "/", segment.name()),
              segment.SerializeAsString());
    return CommitWithAudit(batch, std::move(audit), "storing a segment");
  }

  absl::Status DeleteSegment(std::string_view app_id, std::string_view name,
                             v1::AuditEntry audit) override {
    MutexLock lock(&write_mu_);
    rocksdb::WriteBatch batch;
    batch.Delete(cf(kSegments), StrCat(app_id, "/", name));
    return CommitWithAudit(batch, std::move(audit), "deleting a segment");
  }

  absl::StatusOr<std::vector<v1::Segment>> ListSegments(
      std::string_view app_id) override {
    std::vector<v1::Segment> out;
    const std::string prefix = StrCat(app_id, "/");
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kSegments)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      STRATA_ASSIGN_OR_RETURN(
          v1::Segment seg,
          ParseRecord<v1::Segment>(it->value(), "segment record"));
      out.push_back(std::move(seg));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing segments"));
    return out;
  }

  // ------------------------------------------------------------- reports

  static std::string ReportIdPrefix(std::string_view app_id,
                                    std::string_view device_id) {
    return StrCat(app_id, "/", Sha256::HexHash(device_id), "/");
  }

  absl::Status AppendReport(std::string_view app_id,
                            const v1::StoredReport& report,
                            const HealthUpdate* health) override {
    rocksdb::WriteBatch batch;
    const uint64_t seq = AddReport(batch, app_id, report);
    batch.Merge(cf(kMeta), kReportSeqKey, std::to_string(seq));
    if (health != nullptr) AddHealth(batch, *health);
    return Write(batch, "storing a device report");
  }

  absl::Status ImportReports(
      std::string_view app_id,
      const std::vector<v1::StoredReport>& reports) override {
    rocksdb::WriteBatch batch;
    for (const v1::StoredReport& r : reports) AddReport(batch, app_id, r);
    return Write(batch, "importing device reports");
  }

  // The report under the next sequence number (returned) and its event
  // markers.
  uint64_t AddReport(rocksdb::WriteBatch& batch, std::string_view app_id,
                     const v1::StoredReport& report) {
    const uint64_t seq = report_seq_.fetch_add(1) + 1;
    const std::string key = StrCat(app_id, "/", Padded(seq));
    batch.Put(cf(kReports), key, report.SerializeAsString());
    const std::string prefix = ReportIdPrefix(app_id, report.device_id());
    for (const v1::ReportEvent& e : report.events()) {
      if (!e.event_id().empty()) {
        batch.Put(cf(kReportIds), StrCat(prefix, e.event_id()), key);
      }
    }
    return seq;
  }

  absl::StatusOr<std::vector<bool>> HaveReportEvents(
      std::string_view app_id, std::string_view device_id,
      const std::vector<std::string>& event_ids) override {
    const std::string prefix = ReportIdPrefix(app_id, device_id);
    std::vector<std::string> keys;
    keys.reserve(event_ids.size());
    for (const std::string& id : event_ids) keys.push_back(prefix + id);
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::ColumnFamilyHandle*> families(keys.size(),
                                                       cf(kReportIds));
    std::vector<std::string> values;
    const std::vector<rocksdb::Status> found =
        db_->MultiGet(rocksdb::ReadOptions(), families, slices, &values);
    std::vector<bool> out(keys.size(), false);
    for (size_t i = 0; i < found.size(); ++i) {
      if (found[i].IsNotFound()) continue;
      STRATA_RETURN_IF_ERROR(FromRocks(found[i], "reading report event ids"));
      out[i] = true;
    }
    return out;
  }

  absl::StatusOr<std::pair<uint64_t, uint64_t>> PruneReports(
      int64_t before_unix) override {
    uint64_t reports = 0, events = 0;
    rocksdb::WriteBatch batch;
    size_t in_batch = 0;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kReports)));
    it->SeekToFirst();
    while (it->Valid()) {
      const std::string key = it->key().ToString();
      const size_t slash = key.rfind('/');
      STRATA_ASSIGN_OR_RETURN(
          v1::StoredReport r,
          ParseRecord<v1::StoredReport>(it->value(), "device report"));
      if (slash == std::string::npos || r.received_at_unix() >= before_unix) {
        // An app's reports are in arrival order: the rest of this app is
        // newer. '0' sorts right after '/', so this skips to the next app.
        if (slash == std::string::npos) {
          it->Next();
        } else {
          it->Seek(StrCat(key.substr(0, slash), "0"));
        }
        continue;
      }
      const std::string prefix =
          ReportIdPrefix(key.substr(0, slash), r.device_id());
      for (const v1::ReportEvent& e : r.events()) {
        if (!e.event_id().empty()) {
          batch.Delete(cf(kReportIds), StrCat(prefix, e.event_id()));
        }
      }
      batch.Delete(cf(kReports), key);
      ++reports;
      events += static_cast<uint64_t>(r.events_size());
      if (++in_batch >= 1000) {
        STRATA_RETURN_IF_ERROR(Write(batch, "pruning old reports"));
        batch.Clear();
        in_batch = 0;
      }
      it->Next();
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "scanning reports"));
    if (in_batch > 0) {
      STRATA_RETURN_IF_ERROR(Write(batch, "pruning old reports"));
    }
    return std::make_pair(reports, events);
  }

  absl::StatusOr<std::string> GetOrCreateReportTicketKey(
      uint32_t key_id, std::string_view candidate) override {
    const std::string key = StrCat("report_ticket_key/", key_id);
    MutexLock lock(&write_mu_);
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kMeta), key, &value);
    if (s.ok()) return value;
    if (!s.IsNotFound()) {
      return FromRocks(s, "reading the report ticket key");
    }
    rocksdb::WriteBatch batch;
    batch.Put(cf(kMeta), key, ToSlice(candidate));
    STRATA_RETURN_IF_ERROR(Write(batch, "storing the report ticket key"));
    return std::string(candidate);
  }

  absl::Status ForEachReport(
      const std::function<bool(std::string_view, const v1::StoredReport&)>& fn)
      override {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kReports)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      const size_t slash = key.rfind('/');
      if (slash == std::string_view::npos) continue;
      STRATA_ASSIGN_OR_RETURN(
          v1::StoredReport r,
          ParseRecord<v1::StoredReport>(it->value(), "device report"));
      if (!fn(key.substr(0, slash), r)) break;
    }
    return FromRocks(it->status(), "reading reports");
  }

  absl::StatusOr<std::vector<v1::StoredReport>> ListReports(
      std::string_view app_id, uint32_t limit) override {
    std::vector<v1::StoredReport> out;
    const std::string prefix = StrCat(app_id, "/");
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kReports)));
    for (it->Seek(prefix);
         it->Valid() && it->key().starts_with(prefix) && out.size() < limit;
         it->Next()) {
      STRATA_ASSIGN_OR_RETURN(
          v1::StoredReport r,
          ParseRecord<v1::StoredReport>(it->value(), "device report"));
      out.push_back(std::move(r));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing reports"));
    return out;
  }

  // ------------------------------------------------------ health aggregates

  void AddHealth(rocksdb::WriteBatch& batch, const HealthUpdate& health) {
    for (const HealthMarks& m : health.marks) {
      batch.Put(cf(kHealthMarks), MarksKey(m), m.marks.SerializeAsString());
    }
    for (const HealthBucket& b : health.buckets) {
      batch.Merge(cf(kHealth), BucketKey(b), b.figures.SerializeAsString());
    }
  }

  absl::StatusOr<std::vector<std::optional<v1::StoredDeviceMarks>>>
  GetHealthMarks(const std::vector<HealthMarks>& keys) override {
    std::vector<std::string> raw;
    raw.reserve(keys.size());
    for (const HealthMarks& k : keys) raw.push_back(MarksKey(k));
    std::vector<rocksdb::Slice> slices(raw.begin(), raw.end());
    std::vector<rocksdb::ColumnFamilyHandle*> families(raw.size(),
                                                       cf(kHealthMarks));
    std::vector<std::string> values;
    const std::vector<rocksdb::Status> found =
        db_->MultiGet(rocksdb::ReadOptions(), families, slices, &values);
    std::vector<std::optional<v1::StoredDeviceMarks>> out(keys.size());
    for (size_t i = 0; i < found.size(); ++i) {
      if (found[i].IsNotFound()) continue;
      STRATA_RETURN_IF_ERROR(FromRocks(found[i], "reading device marks"));
      STRATA_ASSIGN_OR_RETURN(out[i], ParseRecord<v1::StoredDeviceMarks>(
                                          values[i], "device marks"));
    }
    return out;
  }

  absl::Status ForEachHealthBucket(
      const std::function<bool(const HealthBucket&)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kHealth)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      if (key.size() != kWindowKeyBytes + 8) {
        return absl::DataLossError(
            "a release health record has a corrupt key; restore the data "
            "directory from a backup");
      }
      HealthBucket b;
      b.window = ParseWindowKey(key);
      b.hour_unix = static_cast<int64_t>(
          ReadBigEndian(key, kWindowKeyBytes, 8) ^ (uint64_t{1} << 63));
      STRATA_ASSIGN_OR_RETURN(b.figures,
                              ParseRecord<v1::StoredHealthFigures>(
                                  it->value(), "release health record"));
      if (!fn(b)) break;
    }
    return FromRocks(it->status(), "reading release health");
  }

  absl::StatusOr<bool> HealthAggregatesBuilt() override {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kMeta), kHealthBuiltKey, &value);
    if (s.IsNotFound()) return false;
    STRATA_RETURN_IF_ERROR(FromRocks(s, "reading the health aggregates mark"));
    return true;
  }

  // A database without reports has nothing to rebuild health from: its
  // aggregates (none yet) are complete. Only a data directory an earlier
  // version wrote has reports and no mark.
  absl::Status MarkHealthBuiltIfNoReports() {
    STRATA_ASSIGN_OR_RETURN(const bool built, HealthAggregatesBuilt());
    if (built) return absl::OkStatus();
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kReports)));
    it->SeekToFirst();
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "scanning reports"));
    if (it->Valid()) return absl::OkStatus();
    return FinishHealthRebuild();
  }

  absl::Status BeginHealthRebuild() override {
    rocksdb::WriteBatch batch;
    batch.Delete(cf(kMeta), kHealthBuiltKey);
    // Every key of both families is 21 bytes; 0xff... is past them all.
    const std::string all_end(kWindowKeyBytes + 9, '\xff');
    batch.DeleteRange(cf(kHealth), "", all_end);
    batch.DeleteRange(cf(kHealthMarks), "", all_end);
    return Write(batch, "clearing release health for a rebuild");
  }

  absl::Status PutHealthRebuild(const HealthUpdate& part) override {
    rocksdb::WriteBatch batch;
    AddHealth(batch, part);
    STRATA_RETURN_IF_ERROR(ResumeWrites("storing rebuilt release health"));
    rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (s.IsIOError()) writes_stopped_.store(true);
    return FromRocks(s, "storing rebuilt release health");
  }

  absl::Status FinishHealthRebuild() override {
    rocksdb::WriteBatch batch;
    batch.Put(cf(kMeta), kHealthBuiltKey, "1");
    // Synced: the WAL before it (the unsynced parts) goes to disk too.
    return Write(batch, "marking release health rebuilt");
  }

  // The report sequence number: the stored high-water mark, or for a data
  // directory written before it existed, one scan of every report key
  // (then stored, so the next start reads one key).
  absl::Status LoadReportSeq() {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kMeta), kReportSeqKey, &value);
    if (s.ok()) {
      uint64_t seq = 0;
      if (!MaxCounter::ParseCounter(value, &seq)) {
        return absl::DataLossError(
            "the report sequence record is corrupt; restore the data "
            "directory from a backup");
      }
      report_seq_ = seq;
      return absl::OkStatus();
    }
    if (!s.IsNotFound()) {
      return FromRocks(s, "reading the report sequence number");
    }
    STRATA_RETURN_IF_ERROR(ScanReportSeq());
    if (report_seq_ == 0) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    batch.Merge(cf(kMeta), kReportSeqKey, std::to_string(report_seq_.load()));
    return Write(batch, "storing the report sequence number");
  }

  absl::Status ScanReportSeq() {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kReports)));
    uint64_t max_seq = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string key = it->key().ToString();
      max_seq = std::max<uint64_t>(max_seq,
                                   std::stoull(key.substr(key.rfind('/') + 1)));
    }
    report_seq_ = max_seq;
    return FromRocks(it->status(), "scanning reports");
  }

  // ------------------------------------------------------------- releases

  absl::StatusOr<v1::Release> CreateRelease(
      v1::Release release, v1::AuditEntry audit, v1::Release* also_update,
      const std::vector<TrustFile>* trust) override {
    MutexLock lock(&write_mu_);
    if (release.artifacts().empty()) {
      v1::ReleaseArtifact* a = release.add_artifacts();
      *a->mutable_module() = release.module();
      a->set_version(release.version());
    }
    STRATA_ASSIGN_OR_RETURN(uint64_t next_id, GetCounter("next_release_id"));
    release.set_release_id(next_id + 1);
    rocksdb::WriteBatch batch;
    batch.Put(cf(kMeta), "next_release_id", std::to_string(next_id + 1));
    std::string sequences;
    for (v1::ReleaseArtifact& a : *release.mutable_artifacts()) {
      const std::string module_key = ModuleKey(release.app_id(), a.module());
      STRATA_ASSIGN_OR_RETURN(uint64_t seq,
                              GetCounter(StrCat("seq/", module_key)));
      // A signed counter is kept; the server's own counter never falls
      // behind it.
      if (a.release_sequence() == 0) a.set_release_sequence(seq + 1);
      batch.Put(cf(kMeta), StrCat("seq/", module_key),
                std::to_string(std::max(seq, a.release_sequence())));
      if (!sequences.empty()) sequences += ",";
      sequences += std::to_string(a.release_sequence());
    }
    if (trust != nullptr) {
      STRATA_RETURN_IF_ERROR(AddTrustFiles(batch, release.app_id(), *trust));
    }
    release.set_created_audit_seq(audit_seq_ + 1);  // CommitWithAudit's
    *release.mutable_module() = release.artifacts(0).module();
    release.set_version(release.artifacts(0).version());
    release.set_release_sequence(release.artifacts(0).release_sequence());
    batch.Put(
        cf(kReleases),
        StrCat("rel/", release.app_id(), "/", Padded(release.release_id())),
        release.SerializeAsString());
    if (also_update != nullptr) {
      also_update->set_rolled_back_by_release_id(release.release_id());
      batch.Put(cf(kReleases),
                StrCat("rel/", also_update->app_id(), "/",
                       Padded(also_update->release_id())),
                also_update->SerializeAsString());
    }
    audit.set_detail(StrCat(audit.detail(), " release_id=",
                            release.release_id(), " sequence=", sequences));
    STRATA_RETURN_IF_ERROR(
        CommitWithAudit(batch, std::move(audit), "storing release"));
    return release;
  }

  absl::Status UpdateRelease(const v1::Release& release,
                             v1::AuditEntry audit) override {
    MutexLock lock(&write_mu_);
    const std::string key =
        StrCat("rel/", release.app_id(), "/", Padded(release.release_id()));
    std::string existing;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kReleases), key, &existing);
    if (s.IsNotFound()) {
      return absl::NotFoundError(StrCat("release ", release.release_id(),
                                        " of app ", release.app_id(),
                                        " does not exist"));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(s, "reading a release"));
    rocksdb::WriteBatch batch;
    batch.Put(cf(kReleases), key, release.SerializeAsString());
    return CommitWithAudit(batch, std::move(audit), "updating release");
  }

  absl::StatusOr<std::optional<v1::Release>> GetRelease(
      std::string_view app_id, uint64_t release_id) override {
    return GetRecord<v1::Release>(
        kReleases, StrCat("rel/", app_id, "/", Padded(release_id)),
        "release record");
  }

  absl::StatusOr<std::vector<v1::Release>> ListAllReleases() override {
    return ListReleases("");
  }

  absl::StatusOr<std::vector<v1::Release>> ListReleases(
      std::string_view app_id) override {
    std::vector<v1::Release> out;
    const std::string prefix =
        app_id.empty() ? std::string("rel/") : StrCat("rel/", app_id, "/");
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kReleases)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      STRATA_ASSIGN_OR_RETURN(
          v1::Release r,
          ParseRecord<v1::Release>(it->value(), "release record"));
      out.push_back(std::move(r));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing releases"));
    return out;
  }

  // --------------------------------------------------------------- tokens

  absl::Status PutToken(std::string_view secret_sha256,
                        const v1::StoredToken& token,
                        v1::AuditEntry audit) override {
    MutexLock lock(&write_mu_);
    rocksdb::WriteBatch batch;
    batch.Put(cf(kTokens), ToSlice(secret_sha256), token.SerializeAsString());
    return CommitWithAudit(batch, std::move(audit), "storing token");
  }

  absl::StatusOr<std::optional<v1::StoredToken>> GetToken(
      std::string_view secret_sha256) override {
    return GetRecord<v1::StoredToken>(kTokens, std::string(secret_sha256),
                                      "token record");
  }

  absl::StatusOr<bool> HasAnyToken() override {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kTokens)));
    it->SeekToFirst();
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "scanning tokens"));
    return it->Valid();
  }

  absl::StatusOr<std::vector<TokenRecord>> ListTokens() override {
    std::vector<TokenRecord> out;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kTokens)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      STRATA_ASSIGN_OR_RETURN(
          v1::StoredToken token,
          ParseRecord<v1::StoredToken>(it->value(), "token record"));
      out.push_back(TokenRecord{it->key().ToString(), std::move(token)});
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing tokens"));
    return out;
  }

  // ---------------------------------------------------------------- audit

  absl::Status AppendAudit(v1::AuditEntry audit) override {
    MutexLock lock(&write_mu_);
    rocksdb::WriteBatch batch;
    return CommitWithAudit(batch, std::move(audit),
                           "appending to the audit log");
  }

  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(
      uint64_t after_seq, uint32_t limit) override {
    std::vector<v1::AuditEntry> out;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kAudit)));
    for (it->Seek(Padded(after_seq + 1)); it->Valid() && out.size() < limit;
         it->Next()) {
      STRATA_ASSIGN_OR_RETURN(
          v1::AuditEntry e,
          ParseRecord<v1::AuditEntry>(it->value(), "audit entry"));
      out.push_back(std::move(e));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing the audit log"));
    return out;
  }

  absl::StatusOr<uint64_t> Checkpoint(std::string_view dir) override {
    struct stat st;
    if (::stat(std::string(dir).c_str(), &st) == 0) {
      return absl::AlreadyExistsError(
          StrCat(dir, " already exists; back up into a new directory"));
    }
    // No mutation may slip between the copy and the figure we report.
    MutexLock lock(&write_mu_);
    rocksdb::Checkpoint* raw = nullptr;
    STRATA_RETURN_IF_ERROR(
        FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw),
                  "preparing a checkpoint"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    STRATA_RETURN_IF_ERROR(
        FromRocks(checkpoint->CreateCheckpoint(std::string(dir)),
                  StrCat("writing a checkpoint to ", dir)));
    return audit_seq_;
  }

  absl::Status RawPutAuditForTesting(const v1::AuditEntry& entry) override {
    rocksdb::WriteBatch batch;
    batch.Put(cf(kAudit), Padded(entry.seq()), entry.SerializeAsString());
    return Write(batch, "overwriting an audit entry");
  }

 private:
  rocksdb::ColumnFamilyHandle* cf(std::string_view name) const {
    for (auto* h : handles_) {
      if (h->GetName() == name) return h;
    }
    return db_->DefaultColumnFamily();
  }

  static std::string ArtifactKey(std::string_view app, const v1::ModuleId& m,
                                 std::string_view version) {
    return StrCat(ModuleKey(app, m), "/", version);
  }
  static std::string SchemaKey(std::string_view app, const v1::ModuleId& m) {
    return StrCat("schema/", ModuleKey(app, m));
  }
  static std::string IdempotencyKey(std::string_view app,
                                    std::string_view key) {
    return StrCat("idem/", app, "/", Sha256::HexHash(key));
  }

  template <typename Proto>
  absl::StatusOr<std::optional<Proto>> GetRecord(std::string_view family,
                                                 const std::string& key,
                                                 std::string_view what) {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(family), key, &value);
    if (s.IsNotFound()) return std::nullopt;
    STRATA_RETURN_IF_ERROR(FromRocks(s, StrCat("reading ", what)));
    STRATA_ASSIGN_OR_RETURN(Proto p, ParseRecord<Proto>(value, what));
    return p;
  }

  absl::StatusOr<uint64_t> GetCounter(const std::string& key) {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kMeta), key, &value);
    if (s.IsNotFound()) return uint64_t{0};
    STRATA_RETURN_IF_ERROR(FromRocks(s, StrCat("reading counter ", key)));
    return std::stoull(value);
  }

  // Adds `files` of `app` to `batch`; replaced files of roles without
  // history are deleted. Caller holds write_mu_.
  absl::Status AddTrustFiles(rocksdb::WriteBatch& batch, std::string_view app,
                             const std::vector<TrustFile>& files) {
    batch.Put(cf(kMeta), StrCat("trust_app/", app), "");
    for (const TrustFile& f : files) {
      const std::string prefix = StrCat(app, "/", f.role, "/");
      if (!KeepsTrustHistory(f.role)) {
        std::unique_ptr<rocksdb::Iterator> it(
            db_->NewIterator(rocksdb::ReadOptions(), cf(kTrust)));
        for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
             it->Next()) {
          batch.Delete(cf(kTrust), it->key());
        }
        STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "scanning trust"));
      }
      batch.Put(cf(kTrust), StrCat(prefix, Padded(f.version)),
                ToSlice(f.content));
    }
    return absl::OkStatus();
  }

  // Appends `audit` to the chain inside `batch` and writes it synced.
  absl::Status CommitWithAudit(rocksdb::WriteBatch& batch, v1::AuditEntry audit,
                               std::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    audit.set_seq(audit_seq_ + 1);
    audit.set_prev_hash(audit_hash_);
    audit.set_hash(AuditEntryHash(audit));
    batch.Put(cf(kAudit), Padded(audit.seq()), audit.SerializeAsString());
    batch.Put(cf(kMeta), "audit_head", StrCat(audit.seq(), " ", audit.hash()));
    STRATA_RETURN_IF_ERROR(Write(batch, what));
    audit_seq_ = audit.seq();
    audit_hash_ = audit.hash();
    return absl::OkStatus();
  }

  absl::Status Write(rocksdb::WriteBatch& batch, std::string_view what) {
    STRATA_RETURN_IF_ERROR(ResumeWrites(what));
    rocksdb::WriteOptions options;
    options.sync = true;  // acknowledged means durable
    rocksdb::Status s = db_->Write(options, &batch);
    if (s.IsIOError()) writes_stopped_.store(true);
    return FromRocks(s, what);
  }

  // After an I/O error (a full disk) RocksDB refuses every write until it
  // is resumed; it then flushes what it holds and writes a new log. Each
  // write tries that first, so writes come back by themselves once space
  // does; until then they fail with the same clear error and reads go on.
  absl::Status ResumeWrites(std::string_view what) {
    if (!writes_stopped_.load()) return absl::OkStatus();
    MutexLock lock(&resume_mu_);
    if (!writes_stopped_.load()) return absl::OkStatus();
    // Resuming flushes the memtables; tried on a disk still full, that
    // fails too and RocksDB then refuses to resume at all, so wait for
    // room first.
    uint64_t free_bytes = 0;
    rocksdb::Status s = db_->GetEnv()->GetFreeSpace(dir_, &free_bytes);
    if (s.ok() && free_bytes < kFreeBytesToResume) {
      s = rocksdb::Status::NoSpace(StrCat(
          free_bytes, " bytes free; writes resume at ", kFreeBytesToResume));
    }
    if (s.ok()) s = db_->Resume();
    if (!s.ok()) return FromRocks(s, what);
    writes_stopped_.store(false);
    return absl::OkStatus();
  }

  const std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  Mutex write_mu_;
  Mutex resume_mu_;
  std::atomic<bool> writes_stopped_{false};
  uint64_t audit_seq_ ABSL_GUARDED_BY(write_mu_) = 0;
  std::atomic<uint64_t> report_seq_{0};
  std::string audit_hash_ ABSL_GUARDED_BY(write_mu_);
};

}  // namespace

void AddHealthFigures(v1::StoredHealthFigures& into,
                      const v1::StoredHealthFigures& delta) {
  into.set_downloaded(into.downloaded() + delta.downloaded());
  into.set_applied(into.applied() + delta.applied());
  into.set_activated(into.activated() + delta.activated());
  into.set_rejected(into.rejected() + delta.rejected());
  into.set_apply_failed(into.apply_failed() + delta.apply_failed());
  into.set_rolled_back(into.rolled_back() + delta.rolled_back());
  into.set_launches_ok(into.launches_ok() + delta.launches_ok());
  into.set_launch_crashes(into.launch_crashes() + delta.launch_crashes());
  into.set_integrity_failures(into.integrity_failures() +
                              delta.integrity_failures());
  while (into.crashes_by_kind_size() < delta.crashes_by_kind_size()) {
    into.add_crashes_by_kind(0);
  }
  for (int i = 0; i < delta.crashes_by_kind_size(); ++i) {
    into.set_crashes_by_kind(
        i, into.crashes_by_kind(i) + delta.crashes_by_kind(i));
  }
  for (const auto& [reason, n] : delta.failures_by_reason()) {
    (*into.mutable_failures_by_reason())[reason] += n;
  }
  if (delta.has_first_report_at_unix() &&
      (!into.has_first_report_at_unix() ||
       delta.first_report_at_unix() < into.first_report_at_unix())) {
    into.set_first_report_at_unix(delta.first_report_at_unix());
  }
  if (delta.has_last_report_at_unix() &&
      (!into.has_last_report_at_unix() ||
       delta.last_report_at_unix() > into.last_report_at_unix())) {
    into.set_last_report_at_unix(delta.last_report_at_unix());
  }
}

bool KeepsTrustHistory(std::string_view role) {
  return role == "root" || role == "targets" || role == "snapshot";
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(
    std::string_view dir, const StoreOptions& store_options) {
  rocksdb::DBOptions options;
  if (store_options.env != nullptr) options.env = store_options.env;
  options.listeners.push_back(std::make_shared<ResumeOnNextWrite>());
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // Start-up that does not grow with the data (issue 16): with -1 (the
  // default) RocksDB opens every table file at open; with a bounded table
  // cache only a few, the rest on first read. No table statistics are read
  // at open either.
  options.max_open_files = 4096;
  options.skip_stats_update_on_db_open = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name :
       {rocksdb::kDefaultColumnFamilyName.c_str(), kBlobs, kArtifacts,
        kReleases, kMeta, kTokens, kAudit, kReports, kSegments, kTrust,
        kReportIds, kHealth, kHealthMarks}) {
    rocksdb::ColumnFamilyOptions cf_options;
    if (std::string_view(name) == kMeta) {
      cf_options.merge_operator = std::make_shared<MaxCounter>();
    } else if (std::string_view(name) == kHealth) {
      cf_options.merge_operator = std::make_shared<SumHealthFigures>();
    } else if (std::string_view(name) == kHealthMarks) {
      // Most reads are of devices not seen yet in their window.
      rocksdb::BlockBasedTableOptions table;
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    }
    families.emplace_back(name, cf_options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(options, std::string(dir), families, &handles, &raw);
  if (!s.ok()) {
    return Annotate(
        FromRocks(s, "opening RocksDB"),
        StrCat("data directory ", dir,
               " (is another stratad using it, or is it not writable?)"));
  }
  auto store = std::make_unique<RocksStore>(
      std::string(dir), std::unique_ptr<rocksdb::DB>(raw), std::move(handles));
  STRATA_RETURN_IF_ERROR(store->LoadAuditHead());
  STRATA_RETURN_IF_ERROR(store->LoadReportSeq());
  STRATA_RETURN_IF_ERROR(store->MarkHealthBuiltIfNoReports());
  return std::unique_ptr<Store>(std::move(store));
}

absl::Status StreamBlob(
    Store& store, const BlobManifest& blob, uint64_t offset, uint64_t length,
    const std::function<bool(uint64_t, std::string_view)>& sink) {
  if (offset >= blob.size) return absl::OkStatus();
  const uint64_t end = offset + std::min(length, blob.size - offset);
  uint64_t pos = 0;
  for (const BlobChunk& c : blob.chunks) {
    if (pos >= end) break;
    if (pos + c.size > offset) {
      STRATA_ASSIGN_OR_RETURN(std::string data, store.ReadChunk(c.sha256));
      if (data.size() != c.size) {
        return absl::DataLossError(StrCat("blob chunk ", c.sha256, " of blob ",
                                          blob.sha256, " has the wrong size"));
      }
      const uint64_t from = offset > pos ? offset - pos : 0;
      const uint64_t to = std::min<uint64_t>(c.size, end - pos);
      if (!sink(pos + from, std::string_view(data).substr(from, to - from))) {
        return absl::OkStatus();
      }
    }
    pos += c.size;
  }
  return absl::OkStatus();
}

}  // namespace strata::server
