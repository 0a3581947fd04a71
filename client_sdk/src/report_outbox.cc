#include "report_outbox.h"

#include <algorithm>

#include "storage_full.h"
#include "strata/base/log.h"
#include "strata/base/status_macros.h"

namespace strata::client {

void ReportOutbox::Queue(v1::ReportEvent e) {
  e.set_event_id(queue_->NewEventId());
  absl::Status s = queue_->Append(e);
  if (s.ok()) return;
  if (unqueued_.empty()) {
    STRATA_LOG(Warning) << "report queue: " << s.ToString()
                        << "; events are kept in memory until the next "
                           "flush";
  }
  if (unqueued_.size() >= kMaxUnqueued) unqueued_.pop_front();
  unqueued_.push_back(std::move(e));
}

absl::StatusOr<size_t> ReportOutbox::Flush(const v1::ReportRequest& header) {
  while (!unqueued_.empty() && queue_->Append(unqueued_.front()).ok()) {
    unqueued_.pop_front();
  }
  size_t sent = 0;
  absl::Status removed;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(std::vector<v1::ReportEvent> pending,
                            queue_->Pending());
    if (pending.empty()) break;
    const size_t n = std::min(pending.size(), kBatch);
    STRATA_RETURN_IF_ERROR(
        Send(header, {pending.begin(), pending.begin() + n}));
    removed = StorageFullError(
        queue_->RemoveFirst(n), "removing acknowledged reports",
        "they are sent again and the server keeps each once");
    if (!removed.ok()) break;
    sent += n;
  }
  while (!unqueued_.empty()) {
    const size_t n = std::min(unqueued_.size(), kBatch);
    STRATA_RETURN_IF_ERROR(
        Send(header, {unqueued_.begin(), unqueued_.begin() + n}));
    unqueued_.erase(unqueued_.begin(), unqueued_.begin() + n);
    sent += n;
  }
  STRATA_RETURN_IF_ERROR(removed);
  return sent;
}

size_t ReportOutbox::Pending() const {
  absl::StatusOr<std::vector<v1::ReportEvent>> p = queue_->Pending();
  return (p.ok() ? p->size() : 0) + unqueued_.size();
}

absl::Status ReportOutbox::Send(const v1::ReportRequest& header,
                                const std::vector<v1::ReportEvent>& events) {
  v1::ReportRequest request = header;
  request.clear_events();
  for (const v1::ReportEvent& e : events) *request.add_events() = e;
  return transport_->Report(request).status();
}

}  // namespace strata::client
