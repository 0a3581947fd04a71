// Drives Delivery Check over HTTP/2 (stratad's HTTP port, h2c) the fastest
// way a client can: nghttp2 sessions on epoll threads, one connection per
// thread, `in_flight` requests outstanding in all; each answer is parsed
// and the next request is sent from the same callback.
#ifndef STRATA_BENCH_SERVER_H2_CHECK_DRIVER_H_
#define STRATA_BENCH_SERVER_H2_CHECK_DRIVER_H_

#include <functional>
#include <string>
#include <vector>

#include "strata/v1/delivery.pb.h"

namespace strata::bench {

struct H2CheckResult {
  uint64_t calls = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;  // every call's
  std::string error;                 // the first failure, if any
};

// `make_request(n)` fills the n-th request. Runs for `seconds` over
// `connections` connections (one thread each) to 127.0.0.1:`port`.
H2CheckResult DriveH2Check(
    int port, int connections, int in_flight, double seconds,
    const std::function<void(uint64_t n, v1::CheckRequest* request)>&
        make_request);

}  // namespace strata::bench

#endif  // STRATA_BENCH_SERVER_H2_CHECK_DRIVER_H_
