// A small FileCheck (as in LLVM/MLIR tests) for checking IR dumps: the check text holds lines
//   CHECK: s          s occurs after the previous match
//   CHECK-NEXT: s     s occurs on the line right after the previous match's line
//   CHECK-SAME: s     s occurs on the previous match's line, after it
//   CHECK-NOT: s      s does not occur between the previous match and the next one (or the end)
//   CHECK-COUNT-n: s  s occurs n times in a row, each after the previous
// Patterns are plain substrings (surrounding spaces trimmed); other lines are ignored.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

namespace pt2tflite::testing {

// Success, or a failure naming the check line and showing the text where matching stopped.
::testing::AssertionResult FileCheck(std::string_view text, std::string_view checks);

}  // namespace pt2tflite::testing
