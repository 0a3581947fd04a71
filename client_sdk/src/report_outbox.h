// Reports on their way out: the durable queue (report_queue.h), the events
// it could not take while the storage is full (kept in memory, for the
// next flush), and sending them in batches, removing each batch only once
// the server acknowledged it. The Client decides what to report; this unit
// only gets the events to the server.
#ifndef STRATA_CLIENT_SRC_REPORT_OUTBOX_H_
#define STRATA_CLIENT_SRC_REPORT_OUTBOX_H_

#include <cstddef>
#include <deque>
#include <vector>

#include "absl/status/statusor.h"
#include "report_queue.h"
#include "strata/v1/delivery.pb.h"
#include "transport.h"

namespace strata::client {

class ReportOutbox {
 public:
  // Events sent per Report call.
  static constexpr size_t kBatch = 100;
  // Events held in memory while the storage is full (issue 15, item 4);
  // past it the oldest go.
  static constexpr size_t kMaxUnqueued = 1000;

  // Not owning.
  ReportOutbox(ReportQueue* queue, Transport* transport)
      : queue_(queue), transport_(transport) {}

  // Gives `e` its event id and queues it durably. Best effort with respect
  // to the operation it describes: one the queue cannot take (the storage
  // is full) is kept in memory, with its id, for the next flush: not lost
  // while the process lives.
  void Queue(v1::ReportEvent e);

  // Sends everything queued, in batches of `header` (the device and the
  // ticket) plus events: the memory-held events go into the queue first
  // if it takes them now; a batch leaves the queue only once acknowledged
  // (if that removal fails they are sent again later; the server keeps
  // each event id once); those the queue still cannot take are sent from
  // memory. Returns how many were sent.
  absl::StatusOr<size_t> Flush(const v1::ReportRequest& header);

  // Events not yet acknowledged (queued and held in memory).
  size_t Pending() const;

 private:
  absl::Status Send(const v1::ReportRequest& header,
                    const std::vector<v1::ReportEvent>& events);

  ReportQueue* queue_;
  Transport* transport_;
  std::deque<v1::ReportEvent> unqueued_;  // oldest first
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_REPORT_OUTBOX_H_
