// How many bytes the peer of a TCP socket has acknowledged (Linux
// TCP_INFO), for the HTTP port's write timeout: a response whose bytes stop
// being acknowledged is a stalled reader. Its own file because
// <linux/tcp.h> and glibc's <netinet/tcp.h> cannot be included together.
// Internal to server/http.
#ifndef STRATA_SERVER_HTTP_SRC_TCP_PROGRESS_H_
#define STRATA_SERVER_HTTP_SRC_TCP_PROGRESS_H_

#include <cstdint>

namespace strata::server::internal {

// False when the socket is not TCP or the kernel does not say.
bool BytesAcked(int fd, uint64_t* acked);

}  // namespace strata::server::internal

#endif  // STRATA_SERVER_HTTP_SRC_TCP_PROGRESS_H_
