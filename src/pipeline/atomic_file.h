// An output file that appears complete or not at all: bytes go to a temporary file next to the
// destination, renamed over it only when everything was written.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace pt2tflite::pipeline {

class AtomicFile {
 public:
  // Creates the temporary file; throws ConversionError if it cannot.
  explicit AtomicFile(std::string path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes; throws ConversionError on a write error (e.g. disk full).
  void write(std::span<const uint8_t> bytes);
  // Closes the temporary file and renames it to the destination.
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace pt2tflite::pipeline
