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

}  // namespace pt2tflite::passes
