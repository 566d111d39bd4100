// Public C++ API of pt2tflite: convert a torch.export (.pt2) archive to a TFLite flatbuffer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace pt2tflite {

// What the user asked for; every field has the default a user of the Python API gets.
struct ConvertOptions {
  // Names of passes after which the IR text dump is written to `dump_sink` (or stderr).
  std::vector<std::string> dump_after;
  // Receives the IR dumps; when null, dumps go to stderr.
  std::string* dump_sink = nullptr;
  // Prints one line per pipeline stage with its wall time to stderr.
  bool verbose = false;
  // Puts the constants after the flatbuffer (Buffer.offset/size) instead of inside it. Always
  // done for models whose constants exceed what a 2 GiB flatbuffer can hold.
  bool external_buffers = false;
  // A PT2E-quantized model takes and returns int8 tensors (the QUANTIZE at each input and the
  // DEQUANTIZE at each output are dropped) instead of float ones.
  bool quantized_io = false;
  // Float32 weights of convolutions and fully-connected layers are stored as float16 (half the
  // size), dequantized once at load time.
  bool float16_weights = false;
  // Weight quantization at convert time (activations stay float): "" (none), "int8" (symmetric,
  // per output channel) or "int4" (blockwise int4 with float16 scales for fully-connected weights
  // and embedding tables, int8 for the rest). See docs/quantization.md.
  std::string weight_quant;
  // Elements of a weight row per float16 scale for "int4": 32, 64 or 128.
  int block_size = 32;
};

// One problem found in the user's model: which op, which node, and where it came from.
struct Diagnostic {
  std::string op;           // aten overload, e.g. "aten.gather.default"
  std::string node;         // node name in the exported graph
  std::string module_path;  // nn.Module path, e.g. "layer1.0.conv1"
  std::string source;       // user source "file:line"
  std::string message;      // what is wrong, in the user's terms
  std::string to_string() const;
};

// The model cannot be converted (bad input or unsupported content); carries every problem found.
class ConversionError : public std::runtime_error {
 public:
  explicit ConversionError(std::vector<Diagnostic> diagnostics);
  // A problem that concerns the whole input rather than one node (e.g. a malformed archive).
  explicit ConversionError(const std::string& message);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Result of a conversion: the .tflite bytes, held in the writer's own storage (not copied).
struct ConvertResult {
  std::shared_ptr<const void> storage;
  std::span<const uint8_t> tflite;
};

// The stages whose IR `ConvertOptions::dump_after` can print, in pipeline order. A conversion
// asked to dump after any other name fails with a ConversionError that lists these.
const std::vector<std::string>& pass_names();

// Converts the archive at `path` (the file is memory-mapped; weights are not copied until written).
ConvertResult convert_file(const std::string& path, const ConvertOptions& options = {});

// Converts the archive at `path` and writes the .tflite file to `output`. The constants are
// streamed to the file from where they already are (the archive mapping or a pass's result)
// instead of first assembling the whole file in memory, so peak memory stays near the weights'
// size. The file appears whole or not at all (temporary file + rename), also on any error.
// Returns the number of bytes written.
uint64_t convert_file_to_file(const std::string& path, const std::string& output, const ConvertOptions& options = {});

// Converts an archive held in memory (e.g. from torch.export.save into a BytesIO).
ConvertResult convert_bytes(std::span<const uint8_t> archive, const ConvertOptions& options = {});

// One entry point of a model with several signatures (e.g. `prefill_128` and `decode`).
struct SignatureSource {
  std::string key;                   // the SignatureDef key
  std::span<const uint8_t> archive;  // torch.export archive bytes (borrowed for the call)
  // Names of the user outputs (which come before the state outputs); empty = output_0, output_1, ...
  std::vector<std::string> output_names;
};

// Converts several archives into one file: one subgraph and one SignatureDef per source, in order.
// Constants with equal bytes are stored once, so the weights the signatures share are written once.
ConvertResult convert_signatures(std::span<const SignatureSource> sources, const ConvertOptions& options = {});

// One entry point whose archive is a file (memory-mapped, its weights read where they lie).
struct SignatureFile {
  std::string key;
  std::string path;
  std::vector<std::string> output_names;  // as in SignatureSource
};

// convert_signatures for archive files, writing the .tflite to `output` the way convert_file_to_file
// does: each constant streamed to the file from its archive mapping (pages dropped once written), so
// that neither the archives nor the output are ever whole in memory. Returns the bytes written.
uint64_t convert_signature_files_to_file(std::span<const SignatureFile> sources, const std::string& output,
                                         const ConvertOptions& options = {});

}  // namespace pt2tflite
