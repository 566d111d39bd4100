// The one rule for how big a constant computed at convert time may be, shared by the ATen-level
// evaluator (evaluate_constants.cc) and the TFLite-level folder (fold_constants.cc): folding must
// never inflate the file, so a result is stored only if it is small or no bigger than what it is
// computed from. A constant broadcast to a huge shape stays a run-time broadcast.
#pragma once

#include <cstdint>

namespace pt2tflite::passes {

// A folded result this small is always stored, whatever its operands.
constexpr int64_t kFoldFreeBytes = int64_t{1} << 20;

inline bool worth_storing(int64_t result_bytes, int64_t operand_bytes) {
  return result_bytes <= kFoldFreeBytes || result_bytes <= operand_bytes;
}

}  // namespace pt2tflite::passes
