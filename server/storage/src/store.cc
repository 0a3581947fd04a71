#include "strata/server/storage/store.h"

#include <cinttypes>
#include <cstdio>
#include <mutex>

#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::server {
namespace {

constexpr char kBlobs[] = "blobs";
constexpr char kArtifacts[] = "artifacts";
constexpr char kReleases[] = "releases";
constexpr char kMeta[] = "meta";

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError() && s.subcode() == rocksdb::Status::kNoSpace) {
    return absl::ResourceExhaustedError(msg);
  }
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::UnavailableError(msg);
}

std::string ModuleKey(std::string_view app, const v1::ModuleId& m) {
  return StrCat(app, "/", static_cast<int>(m.layer()), "/", m.name());
}

std::string Padded(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64, v);
  return buf;
}

class RocksStore : public Store {
 public:
  RocksStore(std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : db_(std::move(db)), handles_(std::move(handles)) {}
  ~RocksStore() override {
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }

  absl::Status PutArtifact(const v1::StoredArtifact& artifact,
                           std::string_view content) override {
    const auto& st = artifact.statement();
    rocksdb::WriteBatch batch;
    rocksdb::Slice blob(content.data(), content.size());
    batch.Put(cf(kBlobs), st.content_sha256(), blob);
    batch.Put(cf(kArtifacts),
              ArtifactKey(st.app_id(), st.module(), st.version()),
              artifact.SerializeAsString());
    return Write(batch, "storing artifact");
  }

  absl::StatusOr<std::optional<v1::StoredArtifact>> GetArtifact(
      std::string_view app_id, const v1::ModuleId& module,
      std::string_view version) override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kArtifacts),
                                 ArtifactKey(app_id, module, version), &value);
    if (s.IsNotFound()) return std::nullopt;
    STRATA_RETURN_IF_ERROR(FromRocks(s, "reading artifact"));
    v1::StoredArtifact artifact;
    if (!artifact.ParseFromString(value)) {
      return absl::DataLossError(StrCat("artifact record of ", version,
                                        " is corrupt; restore from backup"));
    }
    return artifact;
  }

  absl::StatusOr<std::string> ReadBlob(std::string_view sha256, uint64_t offset,
                                       uint64_t max_bytes) override {
    rocksdb::PinnableSlice value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kBlobs),
                 rocksdb::Slice(sha256.data(), sha256.size()), &value);
    if (s.IsNotFound()) {
      return absl::NotFoundError(StrCat("no blob with sha256 ", sha256));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(s, "reading blob"));
    if (offset > value.size()) {
      return absl::OutOfRangeError(StrCat("offset ", offset,
                                          " is past the end of blob ", sha256,
                                          " (", value.size(), " bytes)"));
    }
    uint64_t n = std::min<uint64_t>(max_bytes, value.size() - offset);
    return std::string(value.data() + offset, n);
  }

  absl::StatusOr<uint64_t> BlobSize(std::string_view sha256) override {
    rocksdb::PinnableSlice value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kBlobs),
                 rocksdb::Slice(sha256.data(), sha256.size()), &value);
    if (s.IsNotFound()) {
      return absl::NotFoundError(StrCat("no blob with sha256 ", sha256));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(s, "reading blob"));
    return value.size();
  }

  absl::StatusOr<v1::Release> CreateRelease(v1::Release release) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    const std::string module_key =
        ModuleKey(release.app_id(), release.module());
    STRATA_ASSIGN_OR_RETURN(uint64_t next_id, GetCounter("next_release_id"));
    STRATA_ASSIGN_OR_RETURN(uint64_t seq,
                            GetCounter(StrCat("seq/", module_key)));
    release.set_release_id(next_id + 1);
    release.set_release_sequence(seq + 1);
    rocksdb::WriteBatch batch;
    batch.Put(cf(kMeta), "next_release_id", std::to_string(next_id + 1));
    batch.Put(cf(kMeta), StrCat("seq/", module_key), std::to_string(seq + 1));
    batch.Put(
        cf(kReleases),
        StrCat("rel/", release.app_id(), "/", Padded(release.release_id())),
        release.SerializeAsString());
    batch.Put(cf(kReleases), StrCat("cur/", module_key),
              Padded(release.release_id()));
    STRATA_RETURN_IF_ERROR(Write(batch, "storing release"));
    return release;
  }

  absl::StatusOr<std::vector<v1::Release>> ListReleases(
      std::string_view app_id) override {
    std::vector<v1::Release> out;
    const std::string prefix = StrCat("rel/", app_id, "/");
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kReleases)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      v1::Release r;
      if (!r.ParseFromArray(it->value().data(),
                            static_cast<int>(it->value().size()))) {
        return absl::DataLossError(
            StrCat("release record ", it->key().ToString(), " is corrupt"));
      }
      out.push_back(std::move(r));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing releases"));
    return out;
  }

  absl::StatusOr<std::vector<v1::Release>> CurrentReleases(
      std::string_view app_id) override {
    std::vector<v1::Release> out;
    const std::string prefix = StrCat("cur/", app_id, "/");
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf(kReleases)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      std::string rel_key = StrCat("rel/", app_id, "/", it->value().ToString());
      std::string value;
      STRATA_RETURN_IF_ERROR(FromRocks(
          db_->Get(rocksdb::ReadOptions(), cf(kReleases), rel_key, &value),
          StrCat("reading release ", rel_key)));
      v1::Release r;
      if (!r.ParseFromString(value)) {
        return absl::DataLossError(
            StrCat("release record ", rel_key, " is corrupt"));
      }
      out.push_back(std::move(r));
    }
    STRATA_RETURN_IF_ERROR(FromRocks(it->status(), "listing current releases"));
    return out;
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

  absl::StatusOr<uint64_t> GetCounter(const std::string& key) {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cf(kMeta), key, &value);
    if (s.IsNotFound()) return uint64_t{0};
    STRATA_RETURN_IF_ERROR(FromRocks(s, StrCat("reading counter ", key)));
    return std::stoull(value);
  }

  absl::Status Write(rocksdb::WriteBatch& batch, std::string_view what) {
    rocksdb::WriteOptions options;
    options.sync = true;  // acknowledged means durable
    return FromRocks(db_->Write(options, &batch), what);
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::mutex write_mu_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(std::string_view dir) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : {rocksdb::kDefaultColumnFamilyName.c_str(), kBlobs,
                           kArtifacts, kReleases, kMeta}) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
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
  return std::unique_ptr<Store>(
      new RocksStore(std::unique_ptr<rocksdb::DB>(raw), std::move(handles)));
}

}  // namespace strata::server
