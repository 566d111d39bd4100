// Serializes a lowered (TFLite-level) module into a .tflite flatbuffer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "ir/graph.h"

namespace pt2tflite::tflite_writer {

// The finished flatbuffer, kept in the builder's own storage (no extra copy of the weights).
struct Flatbuffer {
  std::shared_ptr<const void> storage;
  std::span<const uint8_t> bytes;
};

// Deterministic: the same module gives the same bytes. Buffer 0 is the empty sentinel, constant
// buffers with equal bytes are shared, opcodes are deduplicated, every signature is written.
// Constants go after the flatbuffer (Buffer.offset/size) when `external_buffers` is set or
// when they would not fit in a flatbuffer's 2 GiB.
Flatbuffer write_model(const ir::Module& module, bool external_buffers = false);

}  // namespace pt2tflite::tflite_writer
