// Shared helpers for elementwise ops: operands (tensors or Python scalars) brought to the
// output's layout and dtype, with PyTorch broadcasting made explicit where ranks differ.
#pragma once

#include <string>

#include "lower/context.h"

namespace pt2tflite::lower {

// The layout an elementwise op with output `out` should compute in: that of its first
// full-rank, non-constant tensor operand (so NHWC activations stay NHWC).
Perm elementwise_layout(LowerCtx& ctx, const ir::Value* out, const std::vector<const ir::Attr*>& operands);
// `operand` (tensor or scalar) as a lowered tensor of dtype `dtype`, broadcast-compatible with
// a rank-`rank` output stored in `layout`.
ir::Value* elementwise_operand(LowerCtx& ctx, const ir::Attr& operand, ir::DType dtype, int rank, const Perm& layout);
// Emits `op` (ADD, MUL, MAXIMUM, ...) over the node args `a` and `b`, output bound to outputs[0].
ir::Value* lower_binary_op(LowerCtx& ctx, const ir::Node& n, ir::TflOp op, const ir::Attr& a, const ir::Attr& b);
// Emits one-input `op` over tensor `x`, output bound to outputs[0] in x's layout.
ir::Node* lower_unary_op(LowerCtx& ctx, const ir::Node& n, ir::TflOp op, const ir::Value* x);
// Emits elementwise `op` over lowered tensors into `out`, or into a new intermediate shaped and
// typed like inputs[0] (the caller puts the full-shape operand first). Returns the result.
ir::Value* emit_elementwise(LowerCtx& ctx, ir::TflOp op, std::vector<ir::Value*> inputs, ir::Value* out = nullptr);

}  // namespace pt2tflite::lower
