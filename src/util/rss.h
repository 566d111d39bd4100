// Resident memory of this process, for the per-stage lines that `--verbose` prints (the
// conversion's memory target is about peak RSS, so each stage shows where it stands).
#pragma once

#include <cstddef>

namespace pt2tflite::util {

// Bytes resident now (anonymous + file-backed pages, as /proc/self/statm counts them); 0 if unknown.
size_t current_rss_bytes();
// The process's high-water mark of resident bytes (getrusage ru_maxrss).
size_t peak_rss_bytes();

}  // namespace pt2tflite::util
