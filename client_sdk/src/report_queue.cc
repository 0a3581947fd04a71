#include "report_queue.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/base/status_macros.h"
#include "strata/base/strings.h"

namespace strata::client {
namespace {

constexpr size_t kRecordHeader = 9;

std::string Frame(std::string_view payload) {
  std::string out(kRecordHeader, '\0');
  out[0] = 'R';
  const uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>(n >> (8 * i));
  const Sha256Digest d = Sha256::Hash(payload);
  for (int i = 0; i < 4; ++i) out[5 + i] = static_cast<char>(d[i]);
  out.append(payload);
  return out;
}

}  // namespace

absl::StatusOr<ReportQueue> ReportQueue::Open(FileSystem* fs, std::string dir,
                                              size_t max_events,
                                              Random* random) {
  STRATA_RETURN_IF_ERROR(CreateDirs(*fs, dir));
  ReportQueue q(fs, JoinPath(dir, "queue"), std::max<size_t>(1, max_events),
                random != nullptr ? random : SystemRandom());
  if (!fs->Exists(q.path_)) {
    absl::Status created = WriteFileAtomically(*fs, q.path_, "");
    // Storage full: the first Append() creates it.
    if (absl::IsResourceExhausted(created)) return q;
    STRATA_RETURN_IF_ERROR(created);
  }
  STRATA_ASSIGN_OR_RETURN(auto records, q.ReadRecords());
  STRATA_ASSIGN_OR_RETURN(FileInfo info, fs->Stat(q.path_));
  // Events queued by an SDK that drew no ids get theirs now, once.
  bool rewrite = info.size != records.second;
  for (std::string& r : records.first) {
    v1::ReportEvent e;
    if (e.ParseFromString(r) && e.event_id().empty()) {
      e.set_event_id(q.NewEventId());
      r = e.SerializeAsString();
      rewrite = true;
    }
  }
  q.count_ = records.first.size();
  if (rewrite) {
    // (A torn tail is cut: keep the whole records, so later appends stay
    // readable.) With the storage full, the next Append() cuts it.
    absl::Status s = q.Rewrite(records.first);
    if (absl::IsResourceExhausted(s)) {
      q.needs_rewrite_ = true;
    } else {
      STRATA_RETURN_IF_ERROR(s);
    }
  }
  return q;
}

absl::Status ReportQueue::Rewrite(const std::vector<std::string>& records) {
  std::string valid;
  for (const std::string& r : records) valid += Frame(r);
  STRATA_RETURN_IF_ERROR(WriteFileAtomically(*fs_, path_, valid));
  needs_rewrite_ = false;
  return absl::OkStatus();
}

std::string ReportQueue::NewEventId() {
  std::string bytes(16, '\0');
  random_->Fill(bytes.data(), bytes.size());
  return ToHex(bytes);
}

absl::StatusOr<std::pair<std::vector<std::string>, size_t>>
ReportQueue::ReadRecords() const {
  absl::StatusOr<std::string> read = fs_->ReadFile(path_);
  // Never created (the storage was full at Open()): empty.
  if (absl::IsNotFound(read.status())) {
    return std::make_pair(std::vector<std::string>(), size_t{0});
  }
  STRATA_RETURN_IF_ERROR(read.status());
  const std::string& data = *read;
  std::vector<std::string> out;
  size_t pos = 0;
  while (data.size() - pos >= kRecordHeader && data[pos] == 'R') {
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) {
      n |= static_cast<uint32_t>(static_cast<uint8_t>(data[pos + 1 + i]))
           << (8 * i);
    }
    if (n > data.size() - pos - kRecordHeader) break;
    std::string_view payload(data.data() + pos + kRecordHeader, n);
    const Sha256Digest d = Sha256::Hash(payload);
    if (std::memcmp(d.data(), data.data() + pos + 5, 4) != 0) break;
    out.emplace_back(payload);
    pos += kRecordHeader + n;
  }
  return std::make_pair(std::move(out), pos);
}

absl::Status ReportQueue::Append(v1::ReportEvent event) {
  if (event.event_id().empty()) event.set_event_id(NewEventId());
  if (count_ >= max_events_) {
    STRATA_RETURN_IF_ERROR(RemoveFirst(count_ - max_events_ + 1));
  } else if (needs_rewrite_) {
    STRATA_ASSIGN_OR_RETURN(auto records, ReadRecords());
    STRATA_RETURN_IF_ERROR(Rewrite(records.first));
  }
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f,
                          fs_->NewAppendableFile(path_));
  absl::Status s = f->Append(Frame(event.SerializeAsString()));
  if (s.ok()) s = f->Sync();
  absl::Status closed = f->Close();
  if (s.ok()) s = closed;
  if (!s.ok()) {
    // Part of the frame may be in the file: cut before the next append.
    needs_rewrite_ = true;
    return s;
  }
  ++count_;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::ReportEvent>> ReportQueue::Pending() const {
  STRATA_ASSIGN_OR_RETURN(auto records, ReadRecords());
  std::vector<v1::ReportEvent> out;
  for (const std::string& r : records.first) {
    v1::ReportEvent e;
    if (!e.ParseFromString(r)) {
      return absl::DataLossError(
          StrCat("report queue ", path_, " holds an unreadable event"));
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::Status ReportQueue::RemoveFirst(size_t n) {
  STRATA_ASSIGN_OR_RETURN(auto records, ReadRecords());
  std::vector<std::string> rest(
      records.first.begin() +
          static_cast<ptrdiff_t>(std::min(n, records.first.size())),
      records.first.end());
  STRATA_RETURN_IF_ERROR(Rewrite(rest));
  count_ = rest.size();
  return absl::OkStatus();
}

}  // namespace strata::client
