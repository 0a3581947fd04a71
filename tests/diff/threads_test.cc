// The delta engine's threads (diff/src/threads.h): jobs beside the calling
// thread, pools, the fallback when no thread can be started and the
// passing on of exceptions; and, end to end, that every way of making a
// patch makes the same bytes when no thread can be started.
#include "src/threads.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "strata/base/file_util.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/diff/delta.h"
#include "strata/diff/tree_delta.h"
#include "test_util.h"

namespace strata::diff {
namespace {

using internal::Beside;
using internal::FailThreadStartsForTesting;
using internal::RefusedThreadStartsForTesting;
using internal::RunBeside;
using internal::RunOnThreads;
using ::strata::testing::IsOk;
using testing::Rng;
using testing::TempDir;
using testing::WriteFile;

// Refuses every thread start while in scope.
class NoThreads {
 public:
  NoThreads() { FailThreadStartsForTesting(1 << 30); }
  ~NoThreads() { FailThreadStartsForTesting(0); }
};

TEST(BesideTest, RunsTheJobOnAThreadOfItsOwn) {
  std::thread::id ran;
  Beside b;
  b.Start(true, [&] { ran = std::this_thread::get_id(); });
  b.Join();
  EXPECT_NE(ran, std::thread::id());
  EXPECT_NE(ran, std::this_thread::get_id());
}

TEST(BesideTest, RunsTheJobHereWhenToldOrWhenNoThreadStarts) {
  std::thread::id ran;
  {
    Beside b;
    b.Start(false, [&] { ran = std::this_thread::get_id(); });
    b.Join();
    EXPECT_EQ(ran, std::this_thread::get_id());
  }
  const int refused = RefusedThreadStartsForTesting();
  FailThreadStartsForTesting(1);
  ran = std::thread::id();
  Beside b;
  b.Start(true, [&] { ran = std::this_thread::get_id(); });
  b.Join();
  EXPECT_EQ(ran, std::this_thread::get_id());
  EXPECT_EQ(RefusedThreadStartsForTesting(), refused + 1);
  // Only the one start was refused.
  Beside c;
  c.Start(true, [&] { ran = std::this_thread::get_id(); });
  c.Join();
  EXPECT_NE(ran, std::this_thread::get_id());
}

TEST(BesideTest, JoinRethrowsTheJobsException) {
  for (bool refuse : {false, true}) {
    SCOPED_TRACE(refuse ? "no thread" : "on a thread");
    if (refuse) FailThreadStartsForTesting(1);
    Beside b;
    b.Start(true, [] { throw std::bad_alloc(); });
    EXPECT_THROW(b.Join(), std::bad_alloc);
    // Once only: a second Join has nothing left to throw.
    EXPECT_NO_THROW(b.Join());
  }
}

TEST(BesideTest, LeavingTheScopeWaitsForTheJobAndDropsItsException) {
  std::atomic<bool> done{false};
  {
    Beside b;
    b.Start(true, [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      done = true;
      throw std::runtime_error("dropped");
    });
  }
  EXPECT_TRUE(done);
}

TEST(RunBesideTest, RunsBothAndRethrowsAfterBothAreDone) {
  std::atomic<bool> beside_done{false};
  // `here` throws at once: the exception leaves only after `beside` ends.
  EXPECT_THROW(RunBeside(
                   true,
                   [&] {
                     std::this_thread::sleep_for(std::chrono::milliseconds(50));
                     beside_done = true;
                   },
                   [] { throw std::runtime_error("here"); }),
               std::runtime_error);
  EXPECT_TRUE(beside_done);
  // `beside` throws on its thread: rethrown here once `here` is done.
  bool here_done = false;
  EXPECT_THROW(RunBeside(
                   true, [] { throw std::bad_alloc(); },
                   [&] {
                     std::this_thread::sleep_for(std::chrono::milliseconds(50));
                     here_done = true;
                   }),
               std::bad_alloc);
  EXPECT_TRUE(here_done);
  // Both throw: `here`'s is the one that leaves.
  EXPECT_THROW(RunBeside(
                   true, [] { throw std::bad_alloc(); },
                   [] { throw std::runtime_error("here"); }),
               std::runtime_error);
}

TEST(RunBesideTest, WithoutAThreadRunsBesideFirstThenHere) {
  std::vector<std::string> order;
  FailThreadStartsForTesting(1);
  RunBeside(
      true, [&] { order.push_back("beside"); },
      [&] { order.push_back("here"); });
  EXPECT_THAT(order, ::testing::ElementsAre("beside", "here"));
}

// `threads` workers over 1,000 items: each item done once, on at most
// `threads` distinct threads; returns how many threads took part.
size_t RunItems(int threads) {
  std::vector<std::atomic<int>> seen(1000);
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  RunOnThreads(threads, [&] {
    for (size_t i = next++; i < seen.size(); i = next++) {
      ++seen[i];
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    // Every worker passes here, with or without items.
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << i;
  return ids.size();
}

TEST(RunOnThreadsTest, EveryItemOnceOnAsManyThreadsAsAsked) {
  EXPECT_EQ(RunItems(1), 1u);
  EXPECT_EQ(RunItems(4), 4u);
  EXPECT_EQ(RunItems(0), 1u);  // at least the calling thread
}

TEST(RunOnThreadsTest, FewerThreadsWhenSomeCannotStart) {
  const int refused = RefusedThreadStartsForTesting();
  FailThreadStartsForTesting(2);
  EXPECT_EQ(RunItems(4), 2u);
  EXPECT_EQ(RefusedThreadStartsForTesting(), refused + 2);
  NoThreads none;
  EXPECT_EQ(RunItems(4), 1u);
}

TEST(RunOnThreadsTest, AWorkersExceptionLeavesOnceAllAreDone) {
  std::atomic<int> finished{0};
  std::atomic<int> calls{0};
  EXPECT_THROW(
      RunOnThreads(3,
                   [&] {
                     // The second worker to start throws; the
                     // others take a while.
                     if (calls++ == 1) throw std::bad_alloc();
                     std::this_thread::sleep_for(std::chrono::milliseconds(50));
                     ++finished;
                   }),
      std::bad_alloc);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(finished, 2);
}

// A patch made with thread starts refused, and how many were refused.
struct Made {
  std::string patch;
  int refused = 0;
};

Made MakeWithoutThreads(const std::string& old_data,
                        const std::string& new_data, const DiffOptions& o) {
  const int before = RefusedThreadStartsForTesting();
  NoThreads none;
  auto p = CreatePatch(old_data, new_data, o);
  EXPECT_THAT(p, IsOk());
  return {p.ok() ? *p : "", RefusedThreadStartsForTesting() - before};
}

// Every way of making a file patch on two threads makes the same bytes
// when no thread can be started, and the patch applies.
TEST(ThreadFallbackTest, FilePatchesAreTheSameWithoutThreads) {
  Rng rng(20);
  const std::string text = rng.Text(600000);
  const std::string text_new = rng.MutateText(text, 150);
  const std::string bin = rng.Bytes(1200000);
  const std::string bin_new = rng.Mutate(bin, 200);
  struct Case {
    const char* name;
    const std::string* old_data;
    const std::string* new_data;
    DiffOptions options;
    // The thread starts of the steps named (each refused once).
    int thread_starts;
  };
  std::vector<Case> cases;
  DiffOptions o;
  o.threads = 2;
  // The anchored frame of text: the hashes, its hash chains, walks and
  // encodings.
  cases.push_back({"text, frame first", &text, &text_new, o, 4});
  // The hashes, both suffix-array scans of text and their two encodings.
  DiffOptions sa = o;
  sa.method = PatchMethod::kSuffixArray;
  cases.push_back({"text, suffix array", &text, &text_new, sa, 3});
  // A binary over 1 MiB: the hashes, the whole-file frame, the scan in
  // two chunks beside the progress reports, the streams' compression.
  DiffOptions with_progress = o;
  with_progress.progress = [](std::string_view, double) {};
  cases.push_back({"binary, auto", &bin, &bin_new, with_progress, 5});
  // Files over the prefix window: the hashes, the scan, the zstd-prefix
  // blocks in a pool.
  DiffOptions blocks = o;
  blocks.method = PatchMethod::kZstdPrefix;
  blocks.prefix_window_log = 18;
  cases.push_back({"binary, prefix blocks", &bin, &bin_new, blocks, 3});
  // The scan and the bzip2 streams.
  DiffOptions bsdiff = o;
  bsdiff.format = PatchFormat::kBsdiff40;
  cases.push_back({"BSDIFF40", &bin, &bin_new, bsdiff, 2});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto with = CreatePatch(*c.old_data, *c.new_data, c.options);
    ASSERT_THAT(with, IsOk());
    Made without = MakeWithoutThreads(*c.old_data, *c.new_data, c.options);
    EXPECT_GE(without.refused, c.thread_starts) << "a step was not reached";
    EXPECT_TRUE(without.patch == *with)
        << without.patch.size() << " bytes against " << with->size();
    auto applied = ApplyPatchToString(*c.old_data, without.patch);
    ASSERT_THAT(applied, IsOk());
    EXPECT_TRUE(*applied == *c.new_data);
  }
}

TEST(ThreadFallbackTest, TreePatchesAreTheSameWithoutThreads) {
  TempDir dir;
  Rng rng(21);
  for (int i = 0; i < 20; ++i) {
    const std::string name = "js/f" + std::to_string(i) + ".js";
    const std::string body = rng.Text(20000);
    WriteFile(dir / ("old/" + name), body);
    WriteFile(dir / ("new/" + name), i % 3 ? body : rng.MutateText(body, 5));
  }
  FileSystem& fs = *PosixFileSystem();
  for (TreePatchForm form : {TreePatchForm::kPerFile, TreePatchForm::kAuto}) {
    SCOPED_TRACE(static_cast<int>(form));
    TreeDiffOptions o;
    o.delta.threads = 2;
    o.form = form;
    auto with = CreateTreePatch(fs, dir / "old", dir / "new", o);
    ASSERT_THAT(with, IsOk());
    const int before = RefusedThreadStartsForTesting();
    absl::StatusOr<std::string> without;
    {
      NoThreads none;
      without = CreateTreePatch(fs, dir / "old", dir / "new", o);
    }
    ASSERT_THAT(without, IsOk());
    EXPECT_GT(RefusedThreadStartsForTesting(), before);
    EXPECT_TRUE(*without == *with)
        << without->size() << " bytes against " << with->size();
    const std::string stage = dir / ("stage" + std::to_string(int(form)));
    ASSERT_THAT(ApplyTreePatch(fs, dir / "old", *without, stage), IsOk());
    EXPECT_EQ(testing::ReadFile(stage + "/js/f0.js"),
              testing::ReadFile(dir / "new/js/f0.js"));
  }
}

}  // namespace
}  // namespace strata::diff
