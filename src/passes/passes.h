// Graph passes. Each takes a graph and rewrites it in place; the pipeline (pipeline.cc) runs
// them in order by name.
#pragma once

#include "ir/graph.h"

namespace pt2tflite::passes {

// ATen level: folds eval-mode batch norm into the convolution that feeds it (weights and bias
// rescaled at convert time) when the convolution output has no other reader.
void fold_batchnorm(ir::Graph& aten);

// TFLite level: fuses RELU / RELU6 / RELU_N1_TO_1 into the op that produces their input when
// that op supports a fused activation and nothing else reads its output.
void fuse_activation(ir::Graph& tfl);

// TFLite level: runs PT2E quantized islands (DEQUANTIZE → op → QUANTIZE) as native int8 ops with
// int8 weights and int32 biases; int8 weights of ops left in float get a DEQUANTIZE.
void fold_qdq(ir::Graph& tfl);

// TFLite level: stores the float32 weights of convolutions and FULLY_CONNECTED as FLOAT16
// constants read through a DEQUANTIZE, for ConvertOptions::float16_weights.
void float16_weights(ir::Graph& tfl);

// TFLite level: makes quantized model inputs and outputs int8 (no QUANTIZE / DEQUANTIZE at the
// boundary), for ConvertOptions::quantized_io.
void quantized_io(ir::Graph& tfl);

}  // namespace pt2tflite::passes
