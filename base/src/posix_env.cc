#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include "strata/base/env.h"
#include "strata/base/strings.h"

namespace strata {
namespace {

absl::Status ErrnoError(int err, std::string_view op, std::string_view path) {
  std::string msg = strata::StrCat(op, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(msg);
    case EEXIST:
    case ENOTEMPTY:
      return absl::AlreadyExistsError(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(msg);
    case ENOSPC:  // "No space left on device"
    case EDQUOT:
    case EFBIG:  // over RLIMIT_FSIZE or the file system's largest file
    case EMFILE:
    case ENFILE:
      return absl::ResourceExhaustedError(msg);
    case EINVAL:
    case EISDIR:
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::UnavailableError(msg);
  }
}

class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd)
      : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Append(std::string_view data) override {
    if (fd_ < 0) return absl::FailedPreconditionError("append after close");
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(errno, "write", path_);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (fd_ < 0) return absl::FailedPreconditionError("sync after close");
    if (::fsync(fd_) != 0) return ErrnoError(errno, "fsync", path_);
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return ErrnoError(errno, "close", path_);
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int fd_;
};

class PosixRandomAccessFile : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  absl::StatusOr<size_t> Read(uint64_t offset, size_t n,
                              char* scratch) const override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, scratch + done, n - done,
                          static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(errno, "pread", path_);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }
  uint64_t Size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixFs : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      std::string_view path) override {
    return Open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      std::string_view path) override {
    return Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC);
  }

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      std::string_view path) override {
    std::string p(path);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(errno, "open", p);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError(err, "stat", p);
    }
    return std::unique_ptr<RandomAccessFile>(
        new PosixRandomAccessFile(p, fd, static_cast<uint64_t>(st.st_size)));
  }

  absl::StatusOr<std::string> ReadFile(std::string_view path) override {
    std::string p(path);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(errno, "open", p);
    std::string out;
    char buf[1 << 16];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return ErrnoError(err, "read", p);
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  absl::StatusOr<FileInfo> Stat(std::string_view path) override {
    std::string p(path);
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return ErrnoError(errno, "stat", p);
    FileInfo info;
    info.is_directory = S_ISDIR(st.st_mode);
    info.size = static_cast<uint64_t>(st.st_size);
    info.mode = st.st_mode & 07777;
    return info;
  }

  absl::StatusOr<std::vector<std::string>> ListDir(
      std::string_view path) override {
    std::string p(path);
    DIR* dir = ::opendir(p.c_str());
    if (dir == nullptr) return ErrnoError(errno, "opendir", p);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::Status Rename(std::string_view from, std::string_view to) override {
    std::string f(from), t(to);
    if (::rename(f.c_str(), t.c_str()) != 0) {
      return ErrnoError(errno, "rename", strata::StrCat(f, " -> ", t));
    }
    return absl::OkStatus();
  }

  absl::Status DeleteFile(std::string_view path) override {
    std::string p(path);
    if (::unlink(p.c_str()) != 0) return ErrnoError(errno, "unlink", p);
    return absl::OkStatus();
  }

  absl::Status CreateDir(std::string_view path) override {
    std::string p(path);
    if (::mkdir(p.c_str(), 0755) != 0) {
      int err = errno;
      struct stat st;
      if (err == EEXIST && ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        return absl::OkStatus();
      }
      return ErrnoError(err, "mkdir", p);
    }
    return absl::OkStatus();
  }

  absl::Status DeleteDir(std::string_view path) override {
    std::string p(path);
    if (::rmdir(p.c_str()) != 0) return ErrnoError(errno, "rmdir", p);
    return absl::OkStatus();
  }

  absl::Status SyncDir(std::string_view path) override {
    std::string p(path.empty() ? "." : path);
    int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(errno, "open directory", p);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoError(err, "fsync directory", p);
    return absl::OkStatus();
  }

  absl::Status SetPermissions(std::string_view path, uint32_t mode) override {
    std::string p(path);
    if (::chmod(p.c_str(), static_cast<mode_t>(mode)) != 0) {
      return ErrnoError(errno, "chmod", p);
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<std::unique_ptr<WritableFile>> Open(std::string_view path,
                                                     int flags) {
    std::string p(path);
    int fd = ::open(p.c_str(), flags, 0644);
    if (fd < 0) return ErrnoError(errno, "open", p);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(p, fd));
  }
};

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration d) override {
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(d));
  }
};

class OsRandom : public Random {
 public:
  uint64_t Next64() override {
    uint64_t v;
    Fill(&v, sizeof(v));
    return v;
  }
  void Fill(void* out, size_t n) override {
    auto* p = static_cast<char*>(out);
    while (n > 0) {
      ssize_t r = ::getrandom(p, n, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        std::abort();  // The kernel's random source cannot fail otherwise.
      }
      p += r;
      n -= static_cast<size_t>(r);
    }
  }
};

}  // namespace

void Random::Fill(void* out, size_t n) {
  auto* p = static_cast<uint8_t*>(out);
  while (n > 0) {
    uint64_t v = Next64();
    size_t k = std::min(n, sizeof(v));
    std::memcpy(p, &v, k);
    p += k;
    n -= k;
  }
}

uint64_t Random::Uniform(uint64_t n) {
  // Rejection sampling avoids modulo bias.
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do {
    v = Next64();
  } while (v >= limit);
  return v % n;
}

FileSystem* PosixFileSystem() {
  static auto* fs = new PosixFs();
  return fs;
}
Clock* SystemClock() {
  static auto* clock = new RealClock();
  return clock;
}
Random* SystemRandom() {
  static auto* random = new OsRandom();
  return random;
}

Env Env::Default() {
  return Env{PosixFileSystem(), SystemClock(), SystemRandom()};
}

}  // namespace strata
