// Internal invariants. A failed check is a converter bug, not a user error: it throws
// InternalError (CLI exit code 1) naming the file and line, instead of aborting the process.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace pt2tflite {

class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void fail_check(const char* file, int line, const char* cond, const std::string& msg);

}  // namespace pt2tflite

#define PT2_CHECK(cond, msg)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::ostringstream pt2_check_os_;                                        \
      pt2_check_os_ << msg;                                                    \
      ::pt2tflite::fail_check(__FILE__, __LINE__, #cond, pt2_check_os_.str()); \
    }                                                                          \
  } while (0)
