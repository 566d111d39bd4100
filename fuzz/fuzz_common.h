// What every harness treats as a finding: anything but a clean success or a ConversionError.
// An InternalError (our own check firing) or any other exception escapes to libFuzzer, which
// reports it as a crash, exactly like a sanitizer report.
#pragma once

#include <cstdlib>
#include <exception>
#include <iostream>

#include "pt2tflite/convert.h"

namespace pt2tflite::fuzz {

template <typename Fn>
void expect_clean(Fn&& fn) {
  try {
    fn();
  } catch (const ConversionError& e) {
    // A rejection must stay short enough to read (the boundary truncates echoed names).
    if (std::char_traits<char>::length(e.what()) > 2000) {
      std::cerr << "ConversionError message of " << std::char_traits<char>::length(e.what()) << " chars\n";
      std::abort();
    }
  } catch (const std::exception& e) {
    std::cerr << "escaped exception (would be exit 1): " << e.what() << "\n";
    std::abort();
  }
}

}  // namespace pt2tflite::fuzz
