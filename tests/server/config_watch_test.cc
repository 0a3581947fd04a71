// WatchConfig's core without gRPC: a change wakes only the streams of its
// app, each stream gets what Check would give its device, one event in
// flight per stream (a slow reader gets the latest version, not every one,
// and holds no other stream), and closed streams leave nothing behind.
#include "strata/server/core/config_watch.h"

#include <memory>
#include <string>
#include <vector>

#include "core_world.h"
#include "gtest/gtest.h"
#include "strata/base/file_util.h"
#include "strata/base/strings.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"
#include "strata/server/core/admin_core.h"
#include "strata/server/core/delivery_core.h"
#include "test_util.h"

namespace strata::server {
namespace {

using ::strata::testing::AdminPrincipal;
using ::strata::testing::ConfigHeader;
using ::strata::testing::IsOk;

// A stream's far end: records what it is sent; a write stays in flight
// until the test acknowledges it (a reader that reads when told).
class RecordingSink : public ConfigSink {
 public:
  void Send(const v1::ConfigEvent* event) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(in_flight_) << "two writes in flight";
    in_flight_ = true;
    sent_.push_back(*event);
  }
  void End(const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = status;
  }
  // Lets the write in flight complete; true if there was one.
  bool Ack(ConfigStream& stream) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!in_flight_) return false;
      in_flight_ = false;
    }
    stream.WriteDone(true);
    return true;
  }
  // "module=content" of everything sent.
  std::vector<std::string> Sent() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const v1::ConfigEvent& e : sent_) {
      out.push_back(e.entry().module().name() + "=" +
                    e.entry().inline_content());
    }
    return out;
  }
  std::optional<absl::Status> ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }

 private:
  std::mutex mu_;
  bool in_flight_ = false;
  std::vector<v1::ConfigEvent> sent_;
  std::optional<absl::Status> ended_;
};

class ConfigWatchTest : public testing::CoreWorldTest {
 protected:
  void TearDown() override {
    for (auto& w : watches_) w.stream->Close();
  }

  // Publishes `content` as `version` of CONFIG `module` of `app` and
  // releases it: to everyone at once, or staged, starting at `exposure_bp`.
  void Release(const std::string& app, const std::string& module,
               const std::string& version, const std::string& content,
               uint32_t exposure_bp = 0) {
    v1::PublishHeader h = ConfigHeader(module, version, content);
    h.mutable_statement()->set_app_id(app);
    ASSERT_THAT(admin_->PublishBytes(AdminPrincipal(), h, content), IsOk());
    v1::CreateReleaseRequest r;
    r.set_app_id(app);
    r.mutable_module()->set_layer(v1::LAYER_CONFIG);
    r.mutable_module()->set_name(module);
    r.set_version(version);
    if (exposure_bp == 0) {
      r.set_all_at_once(true);
    } else {
      for (uint32_t bp : {exposure_bp, 10000u}) {  // stays at the first
        v1::RolloutStage* s = r.add_stages();
        s->set_exposure_bp(bp);
        s->set_bake_seconds(3600);
      }
    }
    ASSERT_THAT(admin_->CreateRelease(AdminPrincipal(), r), IsOk());
  }

  struct Watch {
    std::unique_ptr<RecordingSink> sink;
    std::shared_ptr<ConfigStream> stream;
  };
  Watch& Open(const std::string& app, const std::string& device_id) {
    v1::WatchConfigRequest req;
    req.mutable_device()->set_app_id(app);
    req.mutable_device()->set_device_id(device_id);
    Watch w;
    w.sink = std::make_unique<RecordingSink>();
    w.stream = delivery_->WatchConfig(req, w.sink.get());
    watches_.push_back(std::move(w));
    return watches_.back();
  }
  // Every change so far told to every stream, and every stream read out.
  void Settle() {
    delivery_->config_watch().WaitIdle();
    for (bool acked = true; acked;) {
      acked = false;
      for (auto& w : watches_) acked |= w.sink->Ack(*w.stream);
    }
  }

  std::deque<Watch> watches_;
};

TEST_F(ConfigWatchTest, AChangeWakesOnlyTheStreamsOfItsApp) {
  Release("wallet", "flags", "1", "{\"w\":1}");
  Release("shop", "flags", "1", "{\"s\":1}");
  std::vector<Watch*> wallet;
  std::vector<Watch*> shop;
  for (int i = 0; i < 20; ++i) {
    wallet.push_back(&Open("wallet", StrCat("w", i)));
    shop.push_back(&Open("shop", StrCat("s", i)));
  }
  Settle();
  const uint64_t wakes = delivery_->config_watch().wakes();
  for (Watch* w : shop) ASSERT_EQ(w->stream->evaluations(), 1u);

  Release("wallet", "flags", "2", "{\"w\":2}");
  Settle();
  for (Watch* w : wallet) {
    EXPECT_EQ(w->sink->Sent(),
              (std::vector<std::string>{"flags={\"w\":1}", "flags={\"w\":2}"}));
    EXPECT_EQ(w->stream->evaluations(), 2u);
  }
  for (Watch* w : shop) {
    EXPECT_EQ(w->sink->Sent(), std::vector<std::string>{"flags={\"s\":1}"});
    EXPECT_EQ(w->stream->evaluations(), 1u) << "a wallet change woke shop";
  }
  EXPECT_EQ(delivery_->config_watch().wakes(), wakes + wallet.size());
  EXPECT_EQ(delivery_->config_watch().apps(), 2u);
}

TEST_F(ConfigWatchTest, AChangeToAnAppNobodyWatchesWakesNoStream) {
  Release("shop", "flags", "1", "{}");
  Watch& w = Open("shop", "d1");
  Settle();
  Release("wallet", "flags", "1", "{}");
  Release("wallet", "flags", "2", "{}");
  Settle();
  EXPECT_EQ(delivery_->config_watch().wakes(), 0u);
  EXPECT_EQ(w.stream->evaluations(), 1u);
  EXPECT_EQ(delivery_->config_watch().apps(), 1u);  // no entry for wallet
}

TEST_F(ConfigWatchTest, AStreamGetsWhatCheckGivesItsDevice) {
  Release("wallet", "flags", "1", "{\"v\":1}");
  Release("wallet", "flags", "2", "{\"v\":2}", /*exposure_bp=*/3000);
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(StrCat("device-", i));
  for (const std::string& id : ids) Open("wallet", id);
  Settle();
  int staged = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    v1::CheckRequest check;
    check.mutable_device()->set_app_id("wallet");
    check.mutable_device()->set_device_id(ids[i]);
    STRATA_ASSERT_OK_AND_ASSIGN(v1::CheckResponse r, delivery_->Check(check));
    ASSERT_EQ(r.plan().updates_size(), 1);
    const std::string want = "flags=" + r.plan().updates(0).inline_content();
    EXPECT_EQ(watches_[i].sink->Sent(), std::vector<std::string>{want})
        << ids[i];
    staged += want == "flags={\"v\":2}";
  }
  // Both releases reach devices: the check does bucket them.
  EXPECT_GT(staged, 20);
  EXPECT_LT(staged, 120);
}

TEST_F(ConfigWatchTest, ASlowReaderGetsTheLatestVersionAndHoldsNoOtherStream) {
  Release("wallet", "flags", "1", "{\"v\":1}");
  Watch& slow = Open("wallet", "slow");
  Watch& fast = Open("wallet", "fast");
  delivery_->config_watch().WaitIdle();
  for (int v = 2; v <= 6; ++v) {
    Release("wallet", "flags", StrCat(v), StrCat("{\"v\":", v, "}"));
    delivery_->config_watch().WaitIdle();
    fast.sink->Ack(*fast.stream);  // the slow one reads nothing meanwhile
  }
  EXPECT_EQ(fast.sink->Sent().size(), 6u);
  EXPECT_EQ(fast.sink->Sent().back(), "flags={\"v\":6}");
  // Only version 1 went out to the slow reader; when it is read, the next
  // event is the latest version: the ones between were never queued.
  EXPECT_EQ(slow.sink->Sent(), std::vector<std::string>{"flags={\"v\":1}"});
  ASSERT_TRUE(slow.sink->Ack(*slow.stream));
  EXPECT_EQ(slow.sink->Sent(),
            (std::vector<std::string>{"flags={\"v\":1}", "flags={\"v\":6}"}));
  EXPECT_TRUE(slow.sink->Ack(*slow.stream));
  EXPECT_FALSE(slow.sink->Ack(*slow.stream));  // nothing more to send
}

TEST_F(ConfigWatchTest, QueuedEventsOfAModuleAreSupersededByANewerOne) {
  Release("wallet", "a", "1", "{\"a\":1}");
  Release("wallet", "b", "1", "{\"b\":1}");
  Release("wallet", "c", "1", "{\"c\":1}");
  // Newest release first: c is in flight, b and a are queued.
  Watch& w = Open("wallet", "d1");
  delivery_->config_watch().WaitIdle();
  Release("wallet", "b", "2", "{\"b\":2}");
  Settle();
  EXPECT_EQ(w.sink->Sent(), (std::vector<std::string>{
                                "c={\"c\":1}", "a={\"a\":1}", "b={\"b\":2}"}));
}

TEST_F(ConfigWatchTest, ClosedStreamsLeaveNoSubscription) {
  Release("wallet", "flags", "1", "{}");
  for (int i = 0; i < 100; ++i) Open("wallet", StrCat("d", i));
  EXPECT_EQ(delivery_->config_watch().subscribers(), 100u);
  for (auto& w : watches_) w.stream->Close();
  watches_.clear();
  EXPECT_EQ(delivery_->config_watch().subscribers(), 0u);
  EXPECT_EQ(delivery_->config_watch().apps(), 0u);
  Release("wallet", "flags", "2", "{}");  // wakes nobody
  delivery_->config_watch().WaitIdle();
  EXPECT_EQ(delivery_->config_watch().wakes(), 0u);
}

TEST_F(ConfigWatchTest, ACancelledStreamEndsOnceAndIsNotWrittenAgain) {
  Release("wallet", "flags", "1", "{}");
  Watch& w = Open("wallet", "d1");  // version 1 in flight
  w.stream->Cancel();
  ASSERT_TRUE(w.sink->ended().has_value());
  EXPECT_EQ(w.sink->ended()->code(), absl::StatusCode::kCancelled);
  w.stream->WriteDone(false);  // the write in flight fails
  Release("wallet", "flags", "2", "{}");
  delivery_->config_watch().WaitIdle();
  EXPECT_EQ(w.sink->Sent().size(), 1u);
}

TEST_F(ConfigWatchTest, ADeviceThatGoesAwayEndsItsStreamWithOk) {
  Release("wallet", "flags", "1", "{}");
  Watch& w = Open("wallet", "d1");
  w.stream->WriteDone(false);
  ASSERT_TRUE(w.sink->ended().has_value());
  EXPECT_THAT(*w.sink->ended(), IsOk());
}

TEST_F(ConfigWatchTest, ShutdownEndsEveryStreamAndEachLaterOneAtOnce) {
  Release("wallet", "flags", "1", "{}");
  Watch& busy = Open("wallet", "d1");  // version 1 still in flight
  Watch& idle = Open("shop", "d2");    // nothing to send
  delivery_->config_watch().Shutdown(absl::UnavailableError("stopping"));
  for (Watch* w : {&busy, &idle}) {
    ASSERT_TRUE(w->sink->ended().has_value());
    EXPECT_EQ(w->sink->ended()->code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(w->sink->ended()->message(), "stopping");
  }
  EXPECT_EQ(delivery_->config_watch().subscribers(), 2u);  // until Close
  Watch& late = Open("wallet", "d3");
  ASSERT_TRUE(late.sink->ended().has_value());
  EXPECT_EQ(late.sink->ended()->code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(late.sink->Sent().empty());
  // A change after it writes to nobody.
  busy.stream->WriteDone(true);
  Release("wallet", "flags", "2", "{}");
  delivery_->config_watch().WaitIdle();
  EXPECT_EQ(busy.sink->Sent().size(), 1u);
}

}  // namespace
}  // namespace strata::server
