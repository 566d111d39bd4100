// libFuzzer harness: a whole .pt2 archive → .tflite flatbuffer (convert_bytes: reader,
// validation, lowering, passes, writer and its output check), under every conversion option. On
// success the output must pass the flatbuffers Verifier (the pipeline checks it too; this catches a
// check that was skipped).
#include <cstdint>
#include <cstring>

#include "fuzz_common.h"
#include "json_mutator.h"
#include "pipeline/output_check.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

// The conversion options, chosen by the input's length (deterministic per input, and the
// mutators change lengths all the time): half the executions use the defaults, the others weight
// quantization (int8, or int4 with each block size), float16 weights, int8 I/O or external buffers.
pt2tflite::ConvertOptions options_for(size_t size) {
  pt2tflite::ConvertOptions o;
  switch (size % 16) {
    case 1: o.weight_quant = "int8"; break;
    case 3: o.weight_quant = "int4"; break;
    case 5: o.weight_quant = "int4", o.block_size = 64; break;
    case 7: o.weight_quant = "int4", o.block_size = 128; break;
    case 9: o.float16_weights = true; break;
    case 11: o.quantized_io = true; break;
    case 13: o.external_buffers = true; break;
    case 15: o.weight_quant = "int8", o.float16_weights = true, o.quantized_io = true; break;
    default: break;
  }
  return o;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pt2tflite::fuzz::expect_clean([&] {
    pt2tflite::ConvertResult r = pt2tflite::convert_bytes({data, size}, options_for(size));
    if (!pt2tflite::pipeline::flatbuffer_verifies(r.tflite)) {
      std::cerr << "exit 0 with a flatbuffer the Verifier refuses\n";
      std::abort();
    }
  });
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  // Mostly structure-aware (the archive stays a valid zip, model.json valid JSON); sometimes raw
  // bytes, which exercises the zip reader and the JSON syntax checks.
  if (seed % 5 != 0)
    if (size_t n = pt2tflite::fuzz::mutate_archive(data, size, max_size, seed)) return n;
  return LLVMFuzzerMutate(data, size, max_size);
}
