#include "strata/base/testing/fault_injection_file_system.h"

#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::testing {

class FaultInjectionFileSystem::FaultyWritable : public WritableFile {
 public:
  FaultyWritable(FaultInjectionFileSystem* fs, std::unique_ptr<WritableFile> f,
                 std::string path)
      : fs_(fs), base_(std::move(f)), path_(std::move(path)) {}
  absl::Status Append(std::string_view data) override {
    STRATA_RETURN_IF_ERROR(fs_->MaybeFail("append", path_));
    return base_->Append(data);
  }
  absl::Status Sync() override {
    STRATA_RETURN_IF_ERROR(fs_->MaybeFail("sync", path_));
    return base_->Sync();
  }
  absl::Status Close() override {
    STRATA_RETURN_IF_ERROR(fs_->MaybeFail("close", path_));
    return base_->Close();
  }

 private:
  FaultInjectionFileSystem* fs_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
};

void FaultInjectionFileSystem::FailNthMutation(uint64_t n, bool crash) {
  count_ = 0;
  fail_at_ = n;
  crash_ = crash;
  crashed_ = false;
}

void FaultInjectionFileSystem::Reset() { FailNthMutation(0, false); }

absl::Status FaultInjectionFileSystem::MaybeFail(std::string_view op,
                                                 std::string_view path) {
  if (crashed_) {
    return absl::UnavailableError(strata::StrCat(
        "injected crash: ", op, " ", path, " after the crash point"));
  }
  uint64_t n = ++count_;
  if (fail_at_ != 0 && n == fail_at_) {
    if (crash_) crashed_ = true;
    return absl::UnavailableError(
        strata::StrCat("injected fault at mutation #", n, ": ", op, " ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectionFileSystem::NewWritableFile(std::string_view path) {
  STRATA_RETURN_IF_ERROR(MaybeFail("create", path));
  STRATA_ASSIGN_OR_RETURN(auto f, base_->NewWritableFile(path));
  return std::unique_ptr<WritableFile>(
      new FaultyWritable(this, std::move(f), std::string(path)));
}

absl::StatusOr<std::unique_ptr<WritableFile>>
FaultInjectionFileSystem::NewAppendableFile(std::string_view path) {
  STRATA_RETURN_IF_ERROR(MaybeFail("open-append", path));
  STRATA_ASSIGN_OR_RETURN(auto f, base_->NewAppendableFile(path));
  return std::unique_ptr<WritableFile>(
      new FaultyWritable(this, std::move(f), std::string(path)));
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>>
FaultInjectionFileSystem::NewRandomAccessFile(std::string_view path) {
  if (crashed_) return absl::UnavailableError("injected crash");
  return base_->NewRandomAccessFile(path);
}

absl::StatusOr<std::string> FaultInjectionFileSystem::ReadFile(
    std::string_view path) {
  if (crashed_) return absl::UnavailableError("injected crash");
  return base_->ReadFile(path);
}

absl::StatusOr<FileInfo> FaultInjectionFileSystem::Stat(std::string_view path) {
  if (crashed_) return absl::UnavailableError("injected crash");
  return base_->Stat(path);
}

absl::StatusOr<std::vector<std::string>> FaultInjectionFileSystem::ListDir(
    std::string_view path) {
  if (crashed_) return absl::UnavailableError("injected crash");
  return base_->ListDir(path);
}

absl::Status FaultInjectionFileSystem::Rename(std::string_view from,
                                              std::string_view to) {
  STRATA_RETURN_IF_ERROR(MaybeFail("rename", from));
  return base_->Rename(from, to);
}

absl::Status FaultInjectionFileSystem::DeleteFile(std::string_view path) {
  STRATA_RETURN_IF_ERROR(MaybeFail("unlink", path));
  return base_->DeleteFile(path);
}

absl::Status FaultInjectionFileSystem::CreateDir(std::string_view path) {
  STRATA_RETURN_IF_ERROR(MaybeFail("mkdir", path));
  return base_->CreateDir(path);
}

absl::Status FaultInjectionFileSystem::DeleteDir(std::string_view path) {
  STRATA_RETURN_IF_ERROR(MaybeFail("rmdir", path));
  return base_->DeleteDir(path);
}

absl::Status FaultInjectionFileSystem::SyncDir(std::string_view path) {
  STRATA_RETURN_IF_ERROR(MaybeFail("syncdir", path));
  return base_->SyncDir(path);
}

absl::Status FaultInjectionFileSystem::SetPermissions(std::string_view path,
                                                      uint32_t mode) {
  STRATA_RETURN_IF_ERROR(MaybeFail("chmod", path));
  return base_->SetPermissions(path, mode);
}

}  // namespace strata::testing
