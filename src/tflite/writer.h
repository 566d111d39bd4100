// Serializes a lowered (TFLite-level) module into a .tflite flatbuffer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "ir/graph.h"

namespace pt2tflite::tflite_writer {

// The finished .tflite file, with the constants not yet copied into it: `head` is the flatbuffer
// whose constant ranges are left unfilled (and, being untouched, take no memory), and each
// constant says at which file offset its bytes go. Writing it out streams every constant from
// where it already is (the archive mapping or a pass's result), so the file never exists twice
// in memory; see docs/memory.md.
class Flatbuffer {
 public:
  struct Placed {
    uint64_t offset;  // from the start of the file
    ir::ConstData data;
  };
  // `head` lies in memory kept alive by `storage`.
  Flatbuffer(std::shared_ptr<void> storage, std::span<uint8_t> head, std::vector<Placed> constants, uint64_t size);

  // Bytes of the whole file.
  uint64_t size() const { return size_; }
  // The flatbuffer itself (constants not filled in yet), for the Verifier.
  std::span<const uint8_t> head() const { return head_; }
  // Hands the file to `sink` in order, in pieces. Each constant is released once written (its
  // memory freed when nothing else holds it, its mapped pages dropped). Call at most once.
  void stream(const std::function<void(std::span<const uint8_t>)>& sink);
  // Copies the constants into place and returns the whole file, kept alive by `storage`.
  // Call at most once, instead of stream().
  struct Bytes {
    std::shared_ptr<const void> storage;
    std::span<const uint8_t> bytes;
  };
  Bytes materialize();

 private:
  std::shared_ptr<void> storage_;
  std::span<uint8_t> head_;
  std::vector<Placed> constants_;  // by increasing offset
  uint64_t size_;
};

// Deterministic: the same module gives the same bytes. Buffer 0 is the empty sentinel, constant
// buffers with equal bytes are shared, opcodes are deduplicated, every signature is written.
// Constants go after the flatbuffer (Buffer.offset/size) when `external_buffers` is set or
// when they would not fit in a flatbuffer's 2 GiB.
Flatbuffer write_model(const ir::Module& module, bool external_buffers = false);

}  // namespace pt2tflite::tflite_writer
