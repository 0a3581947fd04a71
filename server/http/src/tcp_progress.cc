#include "tcp_progress.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace strata::server::internal {

bool BytesAcked(int fd, uint64_t* acked) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_bytes_acked) +
                sizeof(info.tcpi_bytes_acked)) {
    return false;
  }
  *acked = info.tcpi_bytes_acked;
  return true;
}

}  // namespace strata::server::internal
