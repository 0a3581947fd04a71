// Running out of memory while making a patch, on the calling thread or on
// a helper, is kResourceExhausted: never an exception out of the engine,
// never a hang, never a wrong patch. This binary replaces the global
// operator new (a seam of this test's own) so that allocations from a
// given size fail while armed, on every thread or on helpers only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/delta.h"
#include "strata/diff/tree_delta.h"
#include "test_util.h"

namespace {

std::atomic<size_t> fail_from{std::numeric_limits<size_t>::max()};
std::atomic<bool> helpers_only{false};
std::atomic<std::thread::id> caller{};
std::atomic<int> failures{0};

bool ShouldFail(size_t n) {
  if (n >= fail_from.load(std::memory_order_relaxed) &&
      (!helpers_only.load(std::memory_order_relaxed) ||
       std::this_thread::get_id() != caller.load())) {
    failures.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  return false;
}

void* Allocate(size_t n) {
  if (ShouldFail(n)) throw std::bad_alloc();
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* AllocateAligned(size_t n, std::align_val_t align) {
  if (ShouldFail(n)) throw std::bad_alloc();
  const size_t a = static_cast<size_t>(align);
  void* p = std::aligned_alloc(a, (std::max<size_t>(n, 1) + a - 1) / a * a);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

// Every replaceable form, so that no allocation and deallocation come
// from different allocators (AddressSanitizer reports such a pair).
void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return Allocate(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void* operator new(size_t n, std::align_val_t a) {
  return AllocateAligned(n, a);
}
void* operator new[](size_t n, std::align_val_t a) {
  return AllocateAligned(n, a);
}
void* operator new(size_t n, std::align_val_t a,
                   const std::nothrow_t&) noexcept {
  try {
    return AllocateAligned(n, a);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](size_t n, std::align_val_t a,
                     const std::nothrow_t& t) noexcept {
  return operator new(n, a, t);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t,
                     const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t,
                       const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace strata::diff {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;
using ::testing::HasSubstr;
using testing::Rng;
using testing::TempDir;
using testing::WriteFile;

// Allocations of `from` bytes or more fail while in scope (on helper
// threads only if `on_helpers_only`).
class FailAllocations {
 public:
  FailAllocations(size_t from, bool on_helpers_only) {
    caller = std::this_thread::get_id();
    helpers_only = on_helpers_only;
    fail_from = from;
  }
  ~FailAllocations() { fail_from = std::numeric_limits<size_t>::max(); }
};

struct Inputs {
  std::string text, text_new, bin, bin_new;
};

const Inputs& TestInputs() {
  static const Inputs* inputs = [] {
    Rng rng(30);
    auto* in = new Inputs;
    in->text = rng.Text(600000);
    in->text_new = rng.MutateText(in->text, 150);
    in->bin = rng.Bytes(1200000);
    in->bin_new = rng.Mutate(in->bin, 200);
    return in;
  }();
  return *inputs;
}

// For each kind of patch and each limit, on helpers only and on every
// thread: the patch is made and applies, or the error is
// kResourceExhausted. Returns how many were refused with allocations
// failing on helpers only, and on every thread.
std::pair<int, int> MakeUnderLimits(const std::vector<size_t>& limits) {
  const Inputs& in = TestInputs();
  struct Case {
    const char* name;
    const std::string* old_data;
    const std::string* new_data;
    DiffOptions options;
  };
  DiffOptions o;
  o.threads = 2;
  DiffOptions sa = o;
  sa.method = PatchMethod::kSuffixArray;
  DiffOptions with_progress = o;
  with_progress.progress = [](std::string_view, double) {};
  DiffOptions blocks = o;
  blocks.method = PatchMethod::kZstdPrefix;
  blocks.prefix_window_log = 18;
  DiffOptions bsdiff = o;
  bsdiff.format = PatchFormat::kBsdiff40;
  const std::vector<Case> cases = {
      {"text", &in.text, &in.text_new, o},
      {"text, suffix array", &in.text, &in.text_new, sa},
      {"binary, progress", &in.bin, &in.bin_new, with_progress},
      {"binary, blocks", &in.bin, &in.bin_new, blocks},
      {"BSDIFF40", &in.bin, &in.bin_new, bsdiff},
  };
  int on_helpers = 0, on_all = 0;
  for (const Case& c : cases) {
    for (size_t limit : limits) {
      for (bool on_helpers_only : {true, false}) {
        SCOPED_TRACE(std::string(c.name) + ", from " + std::to_string(limit) +
                     (on_helpers_only ? " on helpers" : " on every thread"));
        absl::StatusOr<std::string> p;
        {
          FailAllocations fail(limit, on_helpers_only);
          p = CreatePatch(*c.old_data, *c.new_data, c.options);
        }
        if (!p.ok()) {
          ++(on_helpers_only ? on_helpers : on_all);
          EXPECT_THAT(p.status(),
                      StatusIs(absl::StatusCode::kResourceExhausted));
          continue;
        }
        auto applied = ApplyPatchToString(*c.old_data, *p);
        EXPECT_THAT(applied, IsOk());
        EXPECT_TRUE(applied.ok() && *applied == *c.new_data);
      }
    }
  }
  return {on_helpers, on_all};
}

TEST(OutOfMemoryTest, FilePatchesFailAsAValueOrAreRight) {
  const int before = failures.load();
  const auto [on_helpers, on_all] =
      MakeUnderLimits({64 << 10, 512 << 10, 2 << 20});
  // The limits were reached: some patches could not be made, with the
  // failure on a helper too.
  EXPECT_GT(failures.load(), before);
  EXPECT_GT(on_helpers, 0);
  EXPECT_GT(on_all, 0);
  // And nothing was left behind: every patch is made again.
  const Inputs& in = TestInputs();
  EXPECT_THAT(CreatePatch(in.bin, in.bin_new), IsOk());
}

TEST(OutOfMemoryTest, TheMessageSaysWhatWasBeingMade) {
  const Inputs& in = TestInputs();
  absl::StatusOr<std::string> p;
  {
    FailAllocations fail(64 << 10, /*on_helpers_only=*/true);
    p = CreatePatch(in.bin, in.bin_new);
  }
  EXPECT_THAT(p.status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("out of memory making a patch from 1200000 "
                                 "bytes to ")));
}

TEST(OutOfMemoryTest, TreePatchesFailAsAValue) {
  TempDir dir;
  testing::WriteEditedTrees(dir.path(), 31, 20);
  FileSystem& fs = *PosixFileSystem();
  TreeDiffOptions o;
  o.delta.threads = 2;
  for (bool on_helpers_only : {true, false}) {
    SCOPED_TRACE(on_helpers_only);
    absl::StatusOr<std::string> p;
    {
      FailAllocations fail(64 << 10, on_helpers_only);
      p = CreateTreePatch(fs, dir / "old", dir / "new", o);
    }
    EXPECT_THAT(p.status(), StatusIs(absl::StatusCode::kResourceExhausted,
                                     HasSubstr("memory")));
  }
  EXPECT_THAT(CreateTreePatch(fs, dir / "old", dir / "new", o), IsOk());
}

}  // namespace
}  // namespace strata::diff
