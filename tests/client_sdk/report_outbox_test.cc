// Reports on their way out, alone (report_outbox.h): batches acknowledged
// before they leave the queue, events kept in memory while the storage is
// full and sent anyway, nothing lost when the server does not answer.
#include "report_outbox.h"

#include "fake_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/testing/mem_file_system.h"
#include "strata/base/testing/simulated_clock.h"
#include "strata/base/testing/status_matchers.h"

namespace strata::client {
namespace {

using ::strata::testing::IsOk;
using ::strata::testing::StatusIs;

v1::ReportEvent Launch(int i) {
  v1::ReportEvent e;
  e.set_kind(v1::ReportEvent::KIND_LAUNCH_OK);
  e.set_detail("launch " + std::to_string(i));
  return e;
}

class ReportOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto queue = ReportQueue::Open(&fs_, "/r", 1000, &random_);
    ASSERT_THAT(queue, IsOk());
    queue_.emplace(*std::move(queue));
    outbox_.emplace(&*queue_, &server_);
    header_.mutable_device()->set_device_id("d1");
    header_.set_ticket("ticket-1");
  }

  strata::testing::MemFileSystem fs_;
  strata::testing::FakeRandom random_;
  FakeTransport server_;
  std::optional<ReportQueue> queue_;
  std::optional<ReportOutbox> outbox_;
  v1::ReportRequest header_;
};

TEST_F(ReportOutboxTest, SendsInBatchesWithTheHeaderAndEmptiesTheQueue) {
  const size_t n = ReportOutbox::kBatch + 5;
  for (size_t i = 0; i < n; ++i) outbox_->Queue(Launch(static_cast<int>(i)));
  EXPECT_EQ(outbox_->Pending(), n);
  absl::StatusOr<size_t> sent = outbox_->Flush(header_);
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, n);
  ASSERT_EQ(server_.report_requests.size(), 2u);
  EXPECT_EQ(server_.report_requests[0].events_size(), 100);
  EXPECT_EQ(server_.report_requests[1].ticket(), "ticket-1");
  EXPECT_EQ(server_.report_requests[1].device().device_id(), "d1");
  EXPECT_FALSE(server_.reports[0].event_id().empty());
  EXPECT_EQ(outbox_->Pending(), 0u);
  EXPECT_EQ(queue_->size(), 0u);
}

TEST_F(ReportOutboxTest, UnacknowledgedEventsStayAndKeepTheirIds) {
  outbox_->Queue(Launch(1));
  server_.report_error = absl::UnavailableError("no server");
  EXPECT_THAT(outbox_->Flush(header_),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(outbox_->Pending(), 1u);
  server_.report_error = absl::OkStatus();
  server_.lose_acks = 1;  // the server keeps it, the answer is lost
  EXPECT_FALSE(outbox_->Flush(header_).ok());
  ASSERT_THAT(outbox_->Flush(header_), IsOk());
  ASSERT_EQ(server_.report_requests.size(), 2u);
  EXPECT_EQ(server_.report_requests[0].events(0).event_id(),
            server_.report_requests[1].events(0).event_id());
  EXPECT_EQ(outbox_->Pending(), 0u);
}

TEST_F(ReportOutboxTest, EventsTheFullStorageRefusesAreSentFromMemory) {
  fs_.FillDisk();
  outbox_->Queue(Launch(1));
  outbox_->Queue(Launch(2));
  EXPECT_EQ(queue_->size(), 0u);
  EXPECT_EQ(outbox_->Pending(), 2u);
  absl::StatusOr<size_t> sent = outbox_->Flush(header_);
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(*sent, 2u);
  ASSERT_EQ(server_.reports.size(), 2u);
  EXPECT_EQ(server_.reports[0].detail(), "launch 1");
  EXPECT_EQ(outbox_->Pending(), 0u);
}

TEST_F(ReportOutboxTest, MemoryHeldEventsEnterTheQueueOnceThereIsSpace) {
  fs_.FillDisk();
  outbox_->Queue(Launch(1));
  fs_.FreeSpace();
  server_.report_error = absl::UnavailableError("no server");
  EXPECT_FALSE(outbox_->Flush(header_).ok());
  EXPECT_EQ(queue_->size(), 1u);  // durable now
  EXPECT_EQ(outbox_->Pending(), 1u);
}

}  // namespace
}  // namespace strata::client
