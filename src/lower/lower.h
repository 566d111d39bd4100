// Lowering: the ATen-level module becomes a TFLite-level module (ops named "tfl.<BUILTIN>").
#pragma once

#include <vector>

#include "ir/graph.h"
#include "pt2tflite/convert.h"

namespace pt2tflite::lower {

// Lowers every subgraph. Appends one diagnostic per node it cannot lower and keeps going, so
// that the user sees every problem at once; the result is meaningful only if none were added.
ir::Module lower(const ir::Module& aten, std::vector<Diagnostic>& diagnostics);

}  // namespace pt2tflite::lower
