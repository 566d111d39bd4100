// Shared by the IR printer (dump.cc) and parser (parse.cc): the parts of the text form both
// must agree on.
#pragma once

#include <cstdint>
#include <string>

namespace pt2tflite::ir {

// Constants with at most this many elements print their values; larger ones print
// "<N elements>" and parse back as fill_value(i) (their values are not part of the text).
inline constexpr int64_t kMaxPrintedElements = 16;

// The deterministic stand-in for element i of an elided constant: small, non-zero mostly, and
// representable exactly in every dtype (floats get it scaled by 1/4, unsigned and bool mod 2).
inline int64_t fill_value(int64_t i) { return i % 7 - 3; }

// Shortest text that reads back as exactly this value ("0.1", "-2", "1e-05", "nan", "inf").
std::string float_to_text(float x);
std::string double_to_text(double x);

}  // namespace pt2tflite::ir
