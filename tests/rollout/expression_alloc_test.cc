// Checks that evaluating a compiled expression and matching a segment do not
// touch the heap. This file replaces the global operator new/delete of the
// whole rollout_test binary with counting versions; counting is on only
// inside AllocationCounter's scope, and only for the thread that set it.
#include <cstdlib>
#include <new>
#include <string>

#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/rollout/expression.h"
#include "strata/rollout/segment.h"

namespace {

thread_local bool g_counting = false;
thread_local long g_allocations = 0;

void* CountedAlloc(std::size_t n) {
  if (g_counting) ++g_allocations;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

class AllocationCounter {
 public:
  AllocationCounter() {
    g_allocations = 0;
    g_counting = true;
  }
  ~AllocationCounter() { g_counting = false; }
  long count() const { return g_allocations; }
};

}  // namespace

void* operator new(std::size_t n) { return CountedAlloc(n); }
void* operator new[](std::size_t n) { return CountedAlloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (g_counting) ++g_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  if (g_counting) ++g_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace strata::rollout {
namespace {

TEST(ExpressionAllocationTest, CounterSeesAllocations) {
  long seen = 0;
  {
    AllocationCounter counter;
    std::string* s = new std::string(100, 'x');
    seen = counter.count();
    delete s;
  }
  EXPECT_GE(seen, 1);  // the test below would be vacuous otherwise
}

TEST(ExpressionAllocationTest, EvaluateAndMatchDoNotAllocate) {
  std::string regions;
  for (int i = 0; i < 100; ++i) {
    regions += StrCat(i == 0 ? "" : ",", "\"CN-", i, "\"");
  }
  STRATA_ASSERT_OK_AND_ASSIGN(
      Expression e,
      Expression::Compile(StrCat(
          R"(app_version >= "10.3.0" && app_version < "11.0.0-beta" && )",
          R"(os == "android" && region in [)", regions, "] && ",
          R"((attr.tier in ["gold", "platinum"] || attr.level >= 10) && )",
          R"(!(channel == "internal") && os_version in ["13", "14.0"])")));
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet deny, UserIdSet::FromIds({"bad-user"}));
  STRATA_ASSERT_OK_AND_ASSIGN(UserIdSet allow, UserIdSet::FromIds({"tester"}));
  STRATA_ASSERT_OK_AND_ASSIGN(
      Segment segment, Segment::Create("cn-gold", e.text(), allow, deny));

  DeviceAttributes d;
  d.app_version = "10.4.2";
  d.os = "android";
  d.os_version = "14";
  d.region = "CN-31";
  d.channel = "store";
  d.user_id = "someone-with-a-rather-long-user-id-0123456789";
  d.custom["tier"] = "silver";
  d.custom["level"] = "12";
  DeviceAttributes miss = d;
  miss.region = "US-CA";

  long allocations = 0;
  bool hit = false, missed = true;
  SegmentMatch m = SegmentMatch::kDenied;
  {
    AllocationCounter counter;
    for (int i = 0; i < 1000; ++i) {
      hit = e.Evaluate(d);
      missed = e.Evaluate(miss);
      m = segment.Match(d);
    }
    allocations = counter.count();
  }
  EXPECT_TRUE(hit);
  EXPECT_FALSE(missed);
  EXPECT_EQ(m, SegmentMatch::kMatched);
  EXPECT_EQ(allocations, 0);
}

}  // namespace
}  // namespace strata::rollout
