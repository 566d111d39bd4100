// Elementwise math that TFLite has no single op for, shared by the rules that need it.
#pragma once

#include "lower/context.h"

namespace pt2tflite::lower {

// log1p(y) for a float tensor `y`, to an absolute (not relative) accuracy of about 1e-7.
ir::Value* emit_log1p(LowerCtx& ctx, ir::Value* y);

}  // namespace pt2tflite::lower
