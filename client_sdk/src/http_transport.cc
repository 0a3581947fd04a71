// The Delivery API as protobuf over HTTP, through the host's HttpClient.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <limits>

#include "strata/base/strings.h"
#include "transport.h"

namespace strata::client {
namespace {

constexpr char kProtobuf[] = "application/x-protobuf";
constexpr auto kCheckTimeout = absl::Seconds(30);
constexpr auto kDownloadTimeout = absl::Minutes(10);
// A WatchConfig stream is reopened after this (the SDK reconnects at once
// after a stream the server ended).
constexpr auto kWatchTimeout = absl::Hours(1);
// Check and Report answers (the server's own gRPC cap is 8 MiB).
constexpr uint64_t kMaxMessageBytes = 16 << 20;
// Download chunks handed to the downloader (as gRPC's 64 KiB chunks).
constexpr size_t kChunkBytes = 64 << 10;
// An error answer's text, for the message.
constexpr size_t kMaxErrorText = 4096;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

std::string HeaderOf(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (Lower(k) == name) return v;
  }
  return "";
}

// The Status an HTTP error answer stands for: the server's own code
// (Strata-Status) when it sent one, else one for the HTTP status.
absl::Status ErrorOf(int status, const HttpHeaders& headers,
                     const std::string& body, const std::string& url) {
  std::string text = body.substr(0, kMaxErrorText);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  const std::string strata_status = HeaderOf(headers, "strata-status");
  absl::StatusCode code = absl::StatusCode::kUnknown;
  if (!strata_status.empty()) {
    const int n = std::atoi(strata_status.c_str());
    if (n > 0 && n <= 16) code = static_cast<absl::StatusCode>(n);
  } else if (status == 400 || status == 415) {
    code = absl::StatusCode::kInvalidArgument;
  } else if (status == 401) {
    code = absl::StatusCode::kUnauthenticated;
  } else if (status == 403) {
    code = absl::StatusCode::kPermissionDenied;
  } else if (status == 404) {
    code = absl::StatusCode::kNotFound;
  } else if (status == 413 || status == 429) {
    code = absl::StatusCode::kResourceExhausted;
  } else if (status == 416) {
    code = absl::StatusCode::kOutOfRange;
  } else if (status == 502 || status == 503) {
    code = absl::StatusCode::kUnavailable;
  } else if (status == 504) {
    code = absl::StatusCode::kDeadlineExceeded;
  } else if (status >= 500) {
    code = absl::StatusCode::kInternal;
  }
  if (strata_status.empty()) {
    text =
        StrCat("HTTP ", status, " from ", url, text.empty() ? "" : ": ", text);
  }
  return absl::Status(code, text);
}

// Keeps the head and the whole body, up to a cap.
class BufferSink : public HttpResponseSink {
 public:
  void OnHead(int status, const HttpHeaders& headers) override {
    status_ = status;
    headers_ = headers;
  }
  bool OnBody(std::string_view bytes) override {
    if (body_.size() + bytes.size() > kMaxMessageBytes) {
      too_long_ = true;
      return false;
    }
    body_.append(bytes);
    return true;
  }
  int status_ = 0;
  HttpHeaders headers_;
  std::string body_;
  bool too_long_ = false;
};

// A streamed answer's head, the text of an error answer, and why the
// reader stopped it.
class StreamedAnswer : public HttpResponseSink {
 public:
  void OnHead(int status, const HttpHeaders& headers) override {
    status_ = status;
    headers_ = headers;
  }
  int status_ = 0;
  HttpHeaders headers_;
  std::string error_body_;
  absl::Status failed_;
};

// Hands a blob's body to the downloader as DownloadChunks.
class ChunkSink : public StreamedAnswer {
 public:
  ChunkSink(uint64_t offset,
            const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      : at_(offset), sink_(sink) {}
  void OnHead(int status, const HttpHeaders& headers) override {
    StreamedAnswer::OnHead(status, headers);
    if (status != 200 && status != 206) return;
    // "bytes a-b/total" (206) or the whole body (200).
    const std::string range = HeaderOf(headers, "content-range");
    const size_t slash = range.rfind('/');
    if (status == 206 && slash != std::string::npos) {
      total_ = std::strtoull(range.c_str() + slash + 1, nullptr, 10);
    } else {
      total_ = std::strtoull(HeaderOf(headers, "content-length").c_str(),
                             nullptr, 10);
      if (status == 200 && at_ > 0) restarted_ = true;
    }
  }
  bool OnBody(std::string_view bytes) override {
    if (status_ != 200 && status_ != 206) {
      if (error_body_.size() < kMaxErrorText) error_body_.append(bytes);
      return true;
    }
    if (restarted_) {
      // The server ignored the range: skip what the device has.
      const uint64_t skip = std::min<uint64_t>(bytes.size(), at_ - skipped_);
      skipped_ += skip;
      bytes.remove_prefix(skip);
      if (skipped_ < at_) return true;
    }
    while (!bytes.empty()) {
      const std::string_view piece = bytes.substr(0, kChunkBytes);
      v1::DownloadChunk chunk;
      chunk.set_offset(at_ + sent_);
      chunk.set_total_size(total_);
      chunk.set_data(std::string(piece));
      absl::Status s = sink_(chunk);
      if (!s.ok()) {
        failed_ = std::move(s);
        return false;
      }
      sent_ += piece.size();
      bytes.remove_prefix(piece.size());
    }
    return true;
  }

 private:
  const uint64_t at_;
  uint64_t total_ = 0;
  uint64_t sent_ = 0;
  bool restarted_ = false;
  uint64_t skipped_ = 0;
  const std::function<absl::Status(const v1::DownloadChunk&)>& sink_;
};

// Reads a WatchConfig body: ConfigEvents, each after its 4-byte big-endian
// length (an empty frame carries nothing), handed to `on_event` as they
// arrive.
class EventSink : public StreamedAnswer {
 public:
  EventSink(const std::function<absl::Status(const v1::ConfigEvent&)>& on_event,
            const std::atomic<bool>& cancelled)
      : on_event_(on_event), cancelled_(cancelled) {}
  bool OnBody(std::string_view bytes) override {
    if (cancelled_.load()) return false;
    if (status_ != 200) {
      if (error_body_.size() < kMaxErrorText) error_body_.append(bytes);
      return true;
    }
    buffer_.append(bytes);
    size_t at = 0;
    while (buffer_.size() - at >= 4) {
      const auto* b = reinterpret_cast<const unsigned char*>(buffer_.data());
      const uint64_t n = (uint64_t{b[at]} << 24) | (uint64_t{b[at + 1]} << 16) |
                         (uint64_t{b[at + 2]} << 8) | b[at + 3];
      if (n > kMaxMessageBytes) {
        failed_ = absl::DataLossError(StrCat("a WatchConfig event of ", n,
                                             " bytes (over ", kMaxMessageBytes,
                                             "): not stratad's stream"));
        return false;
      }
      if (buffer_.size() - at - 4 < n) break;
      if (n > 0) {
        v1::ConfigEvent event;
        if (!event.ParseFromArray(buffer_.data() + at + 4,
                                  static_cast<int>(n))) {
          failed_ = absl::DataLossError(
              "a WatchConfig event that is not a ConfigEvent");
          return false;
        }
        absl::Status s = on_event_(event);
        if (!s.ok()) {
          failed_ = std::move(s);
          return false;
        }
      }
      at += 4 + n;
    }
    buffer_.erase(0, at);
    return true;
  }
  // Bytes of a frame that had not all arrived: nonzero at the end of the
  // body means the stream was cut, not ended.
  size_t pending() const { return buffer_.size(); }

 private:
  const std::function<absl::Status(const v1::ConfigEvent&)>& on_event_;
  const std::atomic<bool>& cancelled_;
  std::string buffer_;
};

class HttpTransport : public Transport {
 public:
  HttpTransport(std::string base_url, std::shared_ptr<HttpClient> http)
      : base_url_(std::move(base_url)), http_(std::move(http)) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  }

  absl::StatusOr<v1::CheckResponse> Check(
      const v1::CheckRequest& request) override {
    v1::CheckResponse response;
    absl::Status s = Post("/v1/delivery/check", request, &response);
    if (!s.ok()) return s;
    return response;
  }

  absl::StatusOr<v1::ReportResponse> Report(
      const v1::ReportRequest& request) override {
    v1::ReportResponse response;
    absl::Status s = Post("/v1/delivery/report", request, &response);
    if (!s.ok()) return s;
    return response;
  }

  absl::Status Download(
      const std::string& sha256, uint64_t offset,
      const std::function<absl::Status(const v1::DownloadChunk&)>& sink)
      override {
    HttpCall call;
    call.method = "GET";
    call.url = StrCat(base_url_, "/v1/blobs/", sha256);
    if (offset > 0)
      call.headers.emplace_back("Range", StrCat("bytes=", offset, "-"));
    call.timeout = kDownloadTimeout;
    ChunkSink chunks(offset, sink);
    absl::Status s = http_->Send(call, chunks);
    if (!chunks.failed_.ok()) return chunks.failed_;
    if (!s.ok()) return s;
    if (chunks.status_ == 200 || chunks.status_ == 206) return absl::OkStatus();
    return ErrorOf(chunks.status_, chunks.headers_, chunks.error_body_,
                   call.url);
  }

  absl::Status WatchConfig(
      const v1::WatchConfigRequest& request, StreamCancel& cancel,
      const std::function<absl::Status(const v1::ConfigEvent&)>& on_event)
      override {
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    if (!cancel.Attach([cancelled] { cancelled->store(true); })) {
      return absl::CancelledError("the config watch was stopped");
    }
    HttpCall call;
    call.method = "POST";
    call.url = StrCat(base_url_, "/v1/delivery/watch-config");
    call.headers = {{"Content-Type", kProtobuf}};
    call.body = request.SerializeAsString();
    call.timeout = kWatchTimeout;
    call.cancelled = cancelled;
    EventSink events(on_event, *cancelled);
    absl::Status s = http_->Send(call, events);
    cancel.Detach();
    if (cancelled->load()) {
      return absl::CancelledError("the config watch was stopped");
    }
    if (!events.failed_.ok()) return events.failed_;
    if (s.code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::OkStatus();  // the stream's hour is up: reopen it
    }
    if (!s.ok()) return s;
    if (events.status_ != 200) {
      return ErrorOf(events.status_, events.headers_, events.error_body_,
                     call.url);
    }
    if (events.pending() > 0) {
      // stratad ends a body only between frames: this one was cut (a proxy,
      // a dropped connection). The watch backs off and reopens either way;
      // the cause is kept.
      return absl::UnavailableError(
          StrCat("the config watch at ", call.url, " ended inside an event (",
                 events.pending(),
                 " bytes of it came); the stream was cut and will be "
                 "reopened"));
    }
    return absl::OkStatus();  // the server ended the stream
  }

 private:
  template <typename Request, typename Response>
  absl::Status Post(const char* path, const Request& request,
                    Response* response) {
    HttpCall call;
    call.method = "POST";
    call.url = StrCat(base_url_, path);
    call.headers = {{"Content-Type", kProtobuf}, {"Accept", kProtobuf}};
    call.body = request.SerializeAsString();
    call.timeout = kCheckTimeout;
    BufferSink buffer;
    absl::Status s = http_->Send(call, buffer);
    if (buffer.too_long_) {
      return absl::ResourceExhaustedError(StrCat(
          "the answer of ", call.url, " is over ", kMaxMessageBytes, " bytes"));
    }
    if (!s.ok()) return s;
    if (buffer.status_ != 200) {
      return ErrorOf(buffer.status_, buffer.headers_, buffer.body_, call.url);
    }
    if (!response->ParseFromString(buffer.body_)) {
      return absl::DataLossError(
          StrCat(call.url, " answered 200 with a body that is not a ",
                 response->GetTypeName(), " (",
                 HeaderOf(buffer.headers_, "content-type"),
                 "); is server_url stratad's HTTP port?"));
    }
    return absl::OkStatus();
  }

  std::string base_url_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace

std::unique_ptr<Transport> NewHttpTransport(std::string base_url,
                                            std::shared_ptr<HttpClient> http) {
  return std::make_unique<HttpTransport>(std::move(base_url), std::move(http));
}

absl::StatusOr<std::unique_ptr<Transport>> HttpTransportFor(
    const ClientOptions& options) {
  const std::string& url = options.server_url;
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    return absl::InvalidArgumentError(
        StrCat("ClientOptions.server_url '", url,
               "' is not an http(s) URL; give stratad's HTTP port, e.g. "
               "https://updates.example.com"));
  }
  if (options.http_client == nullptr) {
    return absl::InvalidArgumentError(
        "ClientOptions.server_url needs ClientOptions.http_client: the "
        "host's HTTP stack, or strata::client::NewCurlHttpClient() from "
        "strata::client_curl");
  }
  return NewHttpTransport(url, options.http_client);
}

}  // namespace strata::client
