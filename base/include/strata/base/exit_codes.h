// The exit codes of every Strata command-line tool (`strata`,
// `strata-device`, `strata-fleet`), and the one mapping from a Status to
// them, so the tools cannot drift apart (docs/cli.md lists the table;
// tests/integration/cli_edges_test.cc checks the tools against it).
#ifndef STRATA_BASE_EXIT_CODES_H_
#define STRATA_BASE_EXIT_CODES_H_

#include "absl/status/status.h"

namespace strata {

enum ExitCode {
  kExitOk = 0,
  kExitFailure = 1,      // anything not listed below (storage, ...)
  kExitBadInput = 2,     // bad flags or arguments, unreadable files
  kExitNotFound = 3,     // the named app, module, version or release is absent
  kExitRefused = 4,      // refused: conflicts, permissions, integrity
  kExitUnavailable = 5,  // the server could not be reached, or too slow
  kExitHalted = 6,       // strata --wait: the release was halted or rolled back
  kExitTimeout = 7,      // strata --wait: --timeout passed; the release goes on
};

// Invalid argument and out of range are bad input; not found is 3; already
// exists, failed precondition, permission, authentication, exhausted
// resources and data loss are refusals; unavailable and deadline exceeded
// are 5; anything else 1.
int ExitCodeFor(const absl::Status& status);

}  // namespace strata

#endif  // STRATA_BASE_EXIT_CODES_H_
