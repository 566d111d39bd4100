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
Flatbuffer write_model(const ir::Module& module);

}  // namespace pt2tflite::tflite_writer
