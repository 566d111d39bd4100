// Reading back a .tflite file for `pt2tflite inspect`: op histogram, XNNPACK delegation, I/O and size.
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

// What LiteRT's XNNPACK delegate does with the ops of one type (see xnnpack_rules.h).
struct XnnpackOps {
  int delegated = 0;                   // ops it takes
  std::map<std::string, int> refused;  // why it refuses the others → how many
};

// One operator, in execution order, with the names of the tensors it reads and writes.
struct OpInfo {
  int subgraph = 0;
  int index = 0;                             // position in its subgraph
  std::string name;                          // builtin name, e.g. "CONV_2D"
  std::vector<std::string> inputs, outputs;  // tensor names (omitted optional inputs left out)
  std::string xnnpack_refusal;               // empty when XNNPACK takes it (see xnnpack_rules.h)
};

struct ModelSummary {
  size_t file_bytes = 0;
  size_t constant_bytes = 0;
  std::map<std::string, int> op_histogram;  // builtin name → count, all subgraphs
  int op_count = 0;
  std::map<std::string, XnnpackOps> xnnpack;  // builtin name → delegation verdicts
  std::vector<TensorInfo> inputs, outputs;    // of subgraph 0
  std::vector<std::string> signatures;
  std::vector<OpInfo> ops;  // every operator of every subgraph, in order
  // Per signature, in file order: its input and output names in SignatureDef order (LiteRT's
  // Python API returns them sorted by name, which loses the order callers pass them in).
  struct SignatureIo {
    std::vector<std::string> inputs, outputs;
  };
  std::vector<SignatureIo> signature_io;
};

// Throws ConversionError if `bytes` is not a valid TFLite flatbuffer.
ModelSummary summarize_model(std::span<const uint8_t> bytes);

}  // namespace pt2tflite::tflite_writer
