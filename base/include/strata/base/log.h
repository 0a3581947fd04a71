// A minimal logging facade (Debian's Abseil has no logging library).
#ifndef STRATA_BASE_LOG_H_
#define STRATA_BASE_LOG_H_

#include <sstream>

namespace strata {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below this level are dropped. Default kInfo; STRATA_LOG_LEVEL
// (debug|info|warning|error) in the environment overrides it.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace strata

// A single statement (safe under an unbraced `if`); the message is built
// only when the level is enabled.
#define STRATA_LOG(level)                                                \
  for (bool strata_log_on_ =                                             \
           ::strata::LogLevel::k##level >= ::strata::MinLogLevel();      \
       strata_log_on_; strata_log_on_ = false)                           \
  ::strata::LogMessage(::strata::LogLevel::k##level, __FILE__, __LINE__) \
      .stream()

#endif  // STRATA_BASE_LOG_H_
