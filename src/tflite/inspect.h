// Reading back a .tflite file for `pt2tflite inspect`: op histogram, I/O and size.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace pt2tflite::tflite_writer {

struct TensorInfo {
  std::string name;
  std::string dtype;
  std::vector<int32_t> shape;
};

struct ModelSummary {
  size_t file_bytes = 0;
  size_t constant_bytes = 0;
  std::map<std::string, int> op_histogram;  // builtin name → count, all subgraphs
  int op_count = 0;
  std::vector<TensorInfo> inputs, outputs;  // of subgraph 0
  std::vector<std::string> signatures;
};

// Throws ConversionError if `bytes` is not a valid TFLite flatbuffer.
ModelSummary summarize_model(std::span<const uint8_t> bytes);

}  // namespace pt2tflite::tflite_writer
