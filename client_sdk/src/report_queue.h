// Reports waiting to be sent, kept durably so that none is lost to a crash.
//
// One append-only file, `<dir>/queue`, of records:
//   'R', 4-byte little-endian length, first 4 bytes of SHA-256(payload),
//   payload (a serialized strata.v1.ReportEvent).
// Append() fsyncs before returning. A torn tail (a crash mid-append) is cut
// off on Open(). Events are removed only after the server acknowledged them
// (RemoveFirst rewrites the file atomically).
//
// Every event gets its event_id when queued (16 random bytes, hex) and
// keeps it in the file, so an event sent again after a lost
// acknowledgement is the same event to the server, which keeps it once.
// Open() gives ids to events queued by an older SDK without them.
//
// A full storage (RESOURCE_EXHAUSTED) never leaves a record that hides the
// later ones: after a failed append (a short write may have left part of a
// frame) or a torn tail Open() could not cut, the next Append() first
// rewrites the file with the whole records only.
#ifndef STRATA_CLIENT_SRC_REPORT_QUEUE_H_
#define STRATA_CLIENT_SRC_REPORT_QUEUE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/env.h"
#include "strata/v1/delivery.pb.h"

namespace strata::client {

class ReportQueue {
 public:
  // At most `max_events` are kept: when full, the oldest are dropped (a
  // server that never acknowledges must not fill the device).
  // Event ids are drawn from `random` (null: the system's randomness).
  static absl::StatusOr<ReportQueue> Open(FileSystem* fs, std::string dir,
                                          size_t max_events = 1000,
                                          Random* random = nullptr);

  // Durable on return. An event without an event_id gets a new one.
  absl::Status Append(v1::ReportEvent event);
  // A new event id (16 random bytes, hex).
  std::string NewEventId();
  size_t size() const { return count_; }
  absl::StatusOr<std::vector<v1::ReportEvent>> Pending() const;
  // Drops the `n` oldest events (the server acknowledged them).
  absl::Status RemoveFirst(size_t n);

 private:
  ReportQueue(FileSystem* fs, std::string path, size_t max_events,
              Random* random)
      : fs_(fs),
        path_(std::move(path)),
        max_events_(max_events),
        random_(random) {}
  // Replaces the file with `records`, framed.
  absl::Status Rewrite(const std::vector<std::string>& records);
  // Valid records and the byte length they cover.
  absl::StatusOr<std::pair<std::vector<std::string>, size_t>> ReadRecords()
      const;

  FileSystem* fs_;
  std::string path_;
  size_t max_events_;
  Random* random_;
  size_t count_ = 0;
  // The file may hold a partial frame after the whole records.
  bool needs_rewrite_ = false;
};

}  // namespace strata::client

#endif  // STRATA_CLIENT_SRC_REPORT_QUEUE_H_
