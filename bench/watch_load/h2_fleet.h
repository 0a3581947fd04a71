// WatchConfig streams over HTTP/2 (stratad's HTTP port, cleartext h2c with
// prior knowledge) from one process: nghttp2 client sessions on epoll loop
// threads, each connection carrying many streams, as a fleet behind a few
// thousand connections would. Each stream reads the length-prefixed
// ConfigEvents (server/http/include/strata/server/http/delivery_handler.h)
// and notes when it first saw each version.
#ifndef STRATA_BENCH_WATCH_LOAD_H2_FLEET_H_
#define STRATA_BENCH_WATCH_LOAD_H2_FLEET_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace strata::bench {

class H2Fleet {
 public:
  using Clock = std::chrono::steady_clock;
  // `on_version(stream, from, to)`: stream `stream` saw version `to`, newer
  // than the `from` it had; `on_failed(why)`: a stream or connection
  // failed. Called on the loop threads.
  struct Callbacks {
    std::function<void(int stream, int from, int to)> on_version;
    std::function<void(const std::string& why)> on_failed;
  };
  // `host`:`port` is stratad's HTTP port; streams are spread round robin
  // over `connections` connections and `threads` loop threads.
  H2Fleet(std::string host, int port, int connections, int streams, int threads,
          Callbacks callbacks);
  ~H2Fleet();
  // Connects and opens every stream (returns once all are sent).
  bool Start();
  // Closes every connection and joins the threads.
  void Stop();
  // When stream `i` last saw a newer version.
  Clock::time_point at(int i) const;
  // The size of an event a stream read last (any stream).
  long event_bytes() const { return event_bytes_.load(); }

  struct Conn;
  struct Loop;

 private:
  friend struct Conn;
  friend struct Loop;
  const std::string host_;
  const int port_;
  const int connections_;
  const int streams_;
  const int threads_;
  Callbacks callbacks_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::unique_ptr<std::atomic<Clock::rep>[]> at_ns_;
  std::atomic<long> event_bytes_{0};
};

}  // namespace strata::bench

#endif  // STRATA_BENCH_WATCH_LOAD_H2_FLEET_H_
