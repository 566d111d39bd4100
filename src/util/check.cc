#include "util/check.h"

namespace pt2tflite {

void fail_check(const char* file, int line, const char* cond, const std::string& msg) {
  std::ostringstream os;
  os << "internal error at " << file << ":" << line << ": check `" << cond << "` failed";
  if (!msg.empty()) os << ": " << msg;
  os << " (please report this as a pt2tflite bug)";
  throw InternalError(os.str());
}

}  // namespace pt2tflite
