// PT2E quantize / dequantize ops (quantized_decomposed.*, as left by torchao's convert_pt2e).
//
// Activations: quantize → QUANTIZE (float → int8) and dequantize → DEQUANTIZE (int8 → float), so
// every other rule keeps working on float tensors; passes/fold_qdq.cc then turns each
// DEQUANTIZE → op → QUANTIZE island into a native int8 op. Constant weights: dequantize binds the
// int8 constant itself with its parameters attached (a "quantized constant", which stands for
// real values), so convolution and linear rules permute it into int8 weights at convert time.
// Dynamic quantization (choose_qparams → quantize.tensor → dequantize.tensor) keeps the float
// activation: FULLY_CONNECTED with int8 weights quantizes its input at run time by itself.
#include <cmath>
#include <string>

#include "ir/constants.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// The int8 [-128, 127] range is the only activation range TFLite's int8 kernels clamp to.
bool is_full_int8_range(const ir::Node& n) {
  const auto dtype = ir::dtype_from_torch_scalar_type(n.get_int("dtype"));
  return dtype == ir::DType::kInt8 && n.get_int("quant_min") == -128 && n.get_int("quant_max") == 127;
}

ir::QuantParams per_tensor_params(const ir::Node& n) {
  return ir::QuantParams{{static_cast<float>(n.get_float("scale"))}, {n.get_int("zero_point")}, 0, nullptr};
}

// A scale and zero point TFLite's int8 kernels can use: a finite scale in [1e-15, 1e15] (products
// of two stay normal floats: the int32 bias scale is input scale × weight scale) and an int8 zero
// point. Observers give scales from float32's epsilon up; a hostile archive gives anything.
bool valid_scale(double s) { return std::isfinite(s) && s >= 1e-15 && s <= 1e15; }
bool valid_zero_point(int64_t z) { return z >= -128 && z <= 127; }

// Checks the per-tensor parameters of `n`; false after a diagnostic.
bool check_per_tensor_params(LowerCtx& ctx, const ir::Node& n) {
  if (!valid_scale(n.get_float("scale"))) {
    ctx.unsupported("quantization scale " + std::to_string(n.get_float("scale")) + " is not in [1e-15, 1e15]");
    return false;
  }
  if (!valid_zero_point(n.get_int("zero_point"))) {
    ctx.unsupported("zero point " + std::to_string(n.get_int("zero_point")) + " is not in the int8 range");
    return false;
  }
  return true;
}

// The int8 constant `w` with `q` attached, sharing its bytes.
void bind_quantized_constant(LowerCtx& ctx, const ir::Node& n, Value* w, ir::QuantParams q) {
  if (w->dtype != ir::DType::kInt8) return ctx.unsupported("only int8 quantized weights are supported");
  Value* c = ctx.graph().add_const(ctx.graph().unique_name(n.name), w->dtype, w->shape, *w->data);
  c->quant = std::move(q);
  ctx.bind(n.outputs.at(0), c);
}

void lower_quantize_per_tensor(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("input");
  if (!is_full_int8_range(n))
    return ctx.unsupported("only int8 activations with the full [-128, 127] range are supported");
  if (!check_per_tensor_params(ctx, n)) return;
  Value* out = ctx.make_output(n.outputs.at(0), ctx.layout_of(x));
  out->quant = per_tensor_params(n);
  ctx.emit(ir::TflOp::QUANTIZE, {ctx.get_any(x)}, {out});
}

void lower_dequantize_per_tensor(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("input");
  if (!check_per_tensor_params(ctx, n)) return;
  if (Value* w = ctx.constant(x)) return bind_quantized_constant(ctx, n, w, per_tensor_params(n));
  Value* in = ctx.get_any(x);
  if (!in->quant || *in->quant != per_tensor_params(n))
    return ctx.unsupported("dequantize of a tensor that was not quantized with the same scale and zero point");
  ctx.emit(ir::TflOp::DEQUANTIZE, {in}, {ctx.make_output(n.outputs.at(0), ctx.layout_of(x))});
}

void lower_dequantize_per_channel(LowerCtx& ctx, const ir::Node& n) {
  Value* w = ctx.constant(n.get_tensor("input"));
  Value* scales = ctx.constant(n.get_tensor("scales"));
  const Value* zp_arg = n.get_tensor("zero_points");
  Value* zps = zp_arg ? ctx.constant(zp_arg) : nullptr;
  if (!w || !scales || (zp_arg && !zps))
    return ctx.unsupported("per-channel dequantize needs constant weights, scales and zero points");
  ir::QuantParams q;
  q.scale = ir::to_float_vector(*scales);
  q.zero_point = zps ? ir::to_int_vector(*zps) : std::vector<int64_t>(q.scale.size(), 0);
  int64_t axis = n.get_int("axis");
  if (axis < 0) axis += w->rank();
  if (axis < 0 || axis >= w->rank()) return ctx.unsupported("per-channel axis out of range");
  q.axis = static_cast<int32_t>(axis);
  if (static_cast<int64_t>(q.scale.size()) != w->shape[axis].size || q.zero_point.size() != q.scale.size())
    return ctx.unsupported("per-channel dequantize needs one scale and zero point per channel");
  for (float s : q.scale)
    if (!valid_scale(s)) return ctx.unsupported("a per-channel scale is not in [1e-15, 1e15]");
  for (int64_t z : q.zero_point)
    if (z != 0) return ctx.unsupported("per-channel weights need zero point 0 (symmetric quantization) in TFLite");
  bind_quantized_constant(ctx, n, w, std::move(q));
}

// Dynamic quantization: the scale and zero point are chosen per run by the FULLY_CONNECTED kernel
// that reads the float activation, so choose_qparams computes nothing here. Its outputs are bound
// to placeholder constants that only the (equally value-preserving) quantize.tensor below reads.
void lower_choose_qparams(LowerCtx& ctx, const ir::Node& n) {
  for (const Value* out : n.outputs)
    if (out) ctx.bind(out, ctx.scalar(out->dtype, 0.0));
}

// quantize.tensor / dequantize.tensor with run-time parameters: the value stays the float input.
void lower_dynamic_quantize(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("input");
  if (!ir::is_floating(ctx.get_any(x)->dtype))
    return ctx.unsupported("quantize/dequantize with run-time parameters is only supported for dynamic quantization");
  ctx.bind(n.outputs.at(0), ctx.get_any(x), ctx.layout_of(x));
}

}  // namespace

void register_quantize_rules(Registry& r) {
  r.add("quantized_decomposed.quantize_per_tensor.default", lower_quantize_per_tensor, "QUANTIZE",
        "int8 [-128, 127]; folded into native int8 ops by the fold_qdq pass");
  r.add("quantized_decomposed.dequantize_per_tensor.default", lower_dequantize_per_tensor, "DEQUANTIZE",
        "a constant input becomes int8 weights; folded into native int8 ops by the fold_qdq pass");
  r.add("quantized_decomposed.dequantize_per_channel.default", lower_dequantize_per_channel, "(int8 weights)",
        "constant int8 weights with zero points 0, permuted with the weight at convert time");
  r.add("quantized_decomposed.choose_qparams.tensor", lower_choose_qparams, "(none)",
        "dynamic quantization: FULLY_CONNECTED picks the parameters at run time");
  r.add("quantized_decomposed.quantize_per_tensor.tensor", lower_dynamic_quantize, "(none)",
        "dynamic quantization: the activation stays float");
  r.add("quantized_decomposed.dequantize_per_tensor.tensor", lower_dynamic_quantize, "(none)",
        "dynamic quantization: the activation stays float");
}

}  // namespace pt2tflite::lower
