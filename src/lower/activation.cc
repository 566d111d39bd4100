// Activations and softmax. Activations keep whatever layout their input has.
#include <cmath>
#include <limits>
#include <optional>

#include "lower/elementwise.h"
#include "lower/math.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// A clamp bound as PyTorch applies it to the output's dtype: an int bound of an integer tensor is
// wrapped into its dtype first (a uint8 clamp(x, -2, 5) has the bounds 254 and 5, so gives 5).
std::optional<double> bound_arg(const ir::Node& n, std::string_view name) {
  if (n.is_none(name)) return std::nullopt;
  const ir::DType dtype = n.outputs.at(0)->dtype;
  if (const auto* i = std::get_if<int64_t>(n.find(name)); i && !ir::is_floating(dtype))
    return static_cast<double>(ir::wrap_int(*i, dtype));
  return n.get_float(name);
}

// clamp(x, lo, hi): RELU / RELU6 / RELU_N1_TO_1 when the bounds match, else MAXIMUM / MINIMUM.
void lower_clamp_bounds(LowerCtx& ctx, const ir::Node& n, std::optional<double> lo, std::optional<double> hi) {
  const Value* x = n.get_tensor("self");
  if (lo == 0.0 && !hi) return void(lower_unary_op(ctx, n, ir::TflOp::RELU, x));
  if (lo == 0.0 && hi == 6.0) return void(lower_unary_op(ctx, n, ir::TflOp::RELU6, x));
  if (lo == -1.0 && hi == 1.0) return void(lower_unary_op(ctx, n, ir::TflOp::RELU_N1_TO_1, x));
  const Value* y = n.outputs.at(0);
  const Perm layout = ctx.layout_of(x);
  Value* cur = ctx.get_any(x);
  auto step = [&](ir::TflOp op, double bound, bool last) {
    Value* out = last ? ctx.make_output(y, layout) : ctx.make_temp(y->dtype, cur->shape);
    ctx.emit(op, {cur, ctx.scalar(y->dtype, bound)}, {out});
    cur = out;
  };
  if (lo) step(ir::TflOp::MAXIMUM, *lo, !hi);
  if (hi) step(ir::TflOp::MINIMUM, *hi, true);
  if (!lo && !hi) ctx.bind(y, cur, layout);
}

void lower_relu(LowerCtx& ctx, const ir::Node& n) { lower_unary_op(ctx, n, ir::TflOp::RELU, n.get_tensor("self")); }
void lower_sigmoid(LowerCtx& ctx, const ir::Node& n) {
  lower_unary_op(ctx, n, ir::TflOp::LOGISTIC, n.get_tensor("self"));
}
void lower_tanh(LowerCtx& ctx, const ir::Node& n) { lower_unary_op(ctx, n, ir::TflOp::TANH, n.get_tensor("self")); }
void lower_hardswish(LowerCtx& ctx, const ir::Node& n) {
  lower_unary_op(ctx, n, ir::TflOp::HARD_SWISH, n.get_tensor("self"));
}
void lower_hardtanh(LowerCtx& ctx, const ir::Node& n) {
  lower_clamp_bounds(ctx, n, bound_arg(n, "min_val"), bound_arg(n, "max_val"));
}
void lower_clamp(LowerCtx& ctx, const ir::Node& n) {
  lower_clamp_bounds(ctx, n, bound_arg(n, "min"), bound_arg(n, "max"));
}

// hardsigmoid(x) = relu6(x + 3) / 6
void lower_hardsigmoid(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  Value* in = ctx.get_any(x);
  Value* shifted = ctx.make_temp(y->dtype, in->shape);
  ir::set_fused_activation(*ctx.emit(ir::TflOp::ADD, {in, ctx.scalar(y->dtype, 3.0)}, {shifted}),
                           ir::Activation::RELU6);
  Value* out = ctx.make_output(y, ctx.layout_of(x));
  ir::set_fused_activation(*ctx.emit(ir::TflOp::MUL, {shifted, ctx.scalar(y->dtype, 1.0 / 6.0)}, {out}),
                           ir::Activation::NONE);
}

// silu(x) = x * sigmoid(x)
void lower_silu(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  Value* in = ctx.get_any(x);
  Value* sig = ctx.make_temp(y->dtype, in->shape);
  ctx.emit(ir::TflOp::LOGISTIC, {in}, {sig});
  Value* out = ctx.make_output(y, ctx.layout_of(x));
  ir::set_fused_activation(*ctx.emit(ir::TflOp::MUL, {in, sig}, {out}), ir::Activation::NONE);
}

void lower_gelu(LowerCtx& ctx, const ir::Node& n) {
  const std::string& approx = n.get_string("approximate");
  if (approx != "none" && approx != "tanh") return ctx.unsupported("gelu approximate='" + approx + "' is unknown");
  lower_unary_op(ctx, n, ir::TflOp::GELU, n.get_tensor("self"))->set("approximate", approx == "tanh");
}

void lower_leaky_relu(LowerCtx& ctx, const ir::Node& n) {
  lower_unary_op(ctx, n, ir::TflOp::LEAKY_RELU, n.get_tensor("self"))->set("alpha", n.get_float("negative_slope"));
}

// elu(x) = scale · (x > 0 ? x : alpha · expm1(input_scale · x)). TFLite's ELU is the case where
// all three are 1; otherwise, since ELU(z) = expm1(z) ≤ 0 exactly when z ≤ 0,
// elu(x) = scale · (max(x, 0) + alpha · min(ELU(input_scale · x), 0)), all delegated ops.
void lower_elu(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const double alpha = n.get_float("alpha"), scale = n.get_float("scale"), input_scale = n.get_float("input_scale");
  if (alpha == 1.0 && scale == 1.0 && input_scale == 1.0) return void(lower_unary_op(ctx, n, ir::TflOp::ELU, x));
  const Perm layout = ctx.layout_of(x);
  Value* in = ctx.get_any(x);
  auto k = [&](double c) { return ctx.scalar(y->dtype, c); };
  Value* z = input_scale == 1.0 ? in : emit_elementwise(ctx, ir::TflOp::MUL, {in, k(input_scale)});
  Value* neg = emit_elementwise(ctx, ir::TflOp::MINIMUM, {emit_elementwise(ctx, ir::TflOp::ELU, {z}), k(0.0)});
  if (alpha != 1.0) neg = emit_elementwise(ctx, ir::TflOp::MUL, {neg, k(alpha)});
  Value* pos = emit_elementwise(ctx, ir::TflOp::MAXIMUM, {in, k(0.0)});
  if (scale == 1.0) return void(emit_elementwise(ctx, ir::TflOp::ADD, {pos, neg}, ctx.make_output(y, layout)));
  emit_elementwise(ctx, ir::TflOp::MUL, {emit_elementwise(ctx, ir::TflOp::ADD, {pos, neg}), k(scale)},
                   ctx.make_output(y, layout));
}

// prelu(x, w) with w already shaped to broadcast over x (torch.prelu reshapes it to [1, C, 1...]).
void lower_prelu(LowerCtx& ctx, const ir::Node& n) {
  const ir::Attr& xa = *n.find("self");
  const Value* y = n.outputs.at(0);
  const Perm layout = ctx.layout_of(std::get<Value*>(xa));
  Value* alpha = elementwise_operand(ctx, *n.find("weight"), y->dtype, y->rank(), layout);
  Value* in = ctx.get_any(std::get<Value*>(xa));
  emit_elementwise(ctx, ir::TflOp::PRELU, {in, alpha}, ctx.make_output(y, layout));
}

// softplus(x) = log1p(exp(βx)) / β, or x where βx > threshold. Written as
// max(x, 0) + log1p(exp(-β|x|)) / β, which never overflows and needs no select: past the
// threshold the second term is below half an ulp of x whenever exp(-threshold) < 2^-24.
Value* emit_softplus(LowerCtx& ctx, Value* in, double beta, double threshold) {
  auto k = [&](double c) { return ctx.scalar(in->dtype, c); };
  Value* bx = beta == 1.0 ? in : emit_elementwise(ctx, ir::TflOp::MUL, {in, k(beta)});
  Value* e = emit_elementwise(ctx, ir::TflOp::EXP,
                              {emit_elementwise(ctx, ir::TflOp::NEG, {emit_elementwise(ctx, ir::TflOp::ABS, {bx})})});
  Value* soft = emit_log1p(ctx, e);
  if (beta != 1.0) soft = emit_elementwise(ctx, ir::TflOp::DIV, {soft, k(beta)});
  soft = emit_elementwise(ctx, ir::TflOp::ADD, {emit_elementwise(ctx, ir::TflOp::MAXIMUM, {in, k(0.0)}), soft});
  if (threshold >= 24 * std::log(2.0)) return soft;
  // A low threshold switches to x where the smooth form still differs: select like PyTorch.
  Value* above = ctx.make_temp(ir::DType::kBool, in->shape);
  emit_elementwise(ctx, ir::TflOp::GREATER, {bx, k(threshold)}, above);
  return emit_elementwise(ctx, ir::TflOp::SELECT_V2, {above, in, soft}, ctx.make_temp(in->dtype, in->shape));
}

void lower_softplus(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  if (!ir::is_floating(x->dtype)) return ctx.unsupported("softplus of an integer tensor");
  Value* out = emit_softplus(ctx, ctx.get_any(x), n.get_float("beta"), n.get_float("threshold"));
  ctx.bind(n.outputs.at(0), out, ctx.layout_of(x));
}

// mish(x) = x · tanh(softplus(x)) with PyTorch's softplus defaults (β = 1, threshold 20).
void lower_mish(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  if (!ir::is_floating(x->dtype)) return ctx.unsupported("mish of an integer tensor");
  Value* in = ctx.get_any(x);
  Value* t = emit_elementwise(ctx, ir::TflOp::TANH, {emit_softplus(ctx, in, 1.0, 20.0)});
  emit_elementwise(ctx, ir::TflOp::MUL, {in, t}, ctx.make_output(n.outputs.at(0), ctx.layout_of(x)));
}

// Softmax runs over the stored last axis: pick a layout that puts `dim` last.
void lower_softmax_like(LowerCtx& ctx, const ir::Node& n, ir::TflOp op) {
  const Value* x = n.get_tensor("self");
  const int rank = x->rank();
  int64_t dim = n.get_int("dim");
  if (dim < 0) dim += rank;
  Perm layout = ctx.layout_of(x);
  Perm full = layout.empty() ? identity_perm(rank) : layout;
  if (full.back() != dim) {  // move `dim` to the end, keeping the others in PyTorch order
    full.clear();
    for (int d = 0; d < rank; ++d)
      if (d != dim) full.push_back(d);
    full.push_back(static_cast<int>(dim));
  }
  Value* in = ctx.get(x, full);
  Value* out = ctx.make_output(n.outputs.at(0), full);
  ir::Node* s = ctx.emit(op, {in}, {out});
  if (op == ir::TflOp::SOFTMAX) s->set("beta", 1.0);
}

void lower_softmax(LowerCtx& ctx, const ir::Node& n) { lower_softmax_like(ctx, n, ir::TflOp::SOFTMAX); }
void lower_log_softmax(LowerCtx& ctx, const ir::Node& n) { lower_softmax_like(ctx, n, ir::TflOp::LOG_SOFTMAX); }
// _safe_softmax is softmax that gives 0 on rows where every input is -inf (fully masked
// attention rows). SOFTMAX gives NaN there; matching it would need EQUAL + REDUCE_ALL + SELECT,
// none of them delegated, on every attention score, so rows that are not fully masked are exact
// and fully masked rows are the documented difference.
void lower_safe_softmax(LowerCtx& ctx, const ir::Node& n) {
  if (!n.is_none("dtype") && n.get_int("dtype") != 7 /* float32 */)
    return ctx.unsupported("_safe_softmax with a dtype other than float32 is not supported");
  lower_softmax_like(ctx, n, ir::TflOp::SOFTMAX);
}

}  // namespace

void register_activation_rules(Registry& r) {
  r.add("aten.relu.default", lower_relu, "RELU", "fused into the producer when possible");
  r.add("aten.hardtanh.default", lower_hardtanh, "RELU6, RELU_N1_TO_1, MAXIMUM/MINIMUM", "(0,6) → RELU6");
  r.add("aten.clamp.default", lower_clamp, "RELU, RELU6, RELU_N1_TO_1, MAXIMUM/MINIMUM", "scalar bounds");
  r.add("aten.sigmoid.default", lower_sigmoid, "LOGISTIC");
  r.add("aten.tanh.default", lower_tanh, "TANH");
  r.add("aten.hardswish.default", lower_hardswish, "HARD_SWISH").keep_whole_in_decomposition();
  r.add("aten.hardsigmoid.default", lower_hardsigmoid, "ADD(RELU6) + MUL", "relu6(x + 3) / 6")
      .keep_whole_in_decomposition();
  r.add("aten.silu.default", lower_silu, "LOGISTIC + MUL").keep_whole_in_decomposition();
  r.add("aten.gelu.default", lower_gelu, "GELU", "approximate 'none' and 'tanh'").keep_whole_in_decomposition();
  r.add("aten._softmax.default", lower_softmax, "SOFTMAX", "the softmax dim is stored last (TRANSPOSE if needed)");
  r.add("aten._safe_softmax.default", lower_safe_softmax, "SOFTMAX",
        "a row where every input is -inf gives NaN, not PyTorch's 0")
      .keep_whole_in_decomposition();
  r.add("aten.leaky_relu.default", lower_leaky_relu, "LEAKY_RELU");
  r.add("aten.elu.default", lower_elu, "ELU; MAXIMUM, MINIMUM, MUL, ADD",
        "alpha = scale = input_scale = 1 → ELU; else built around ELU from delegated ops");
  r.add("aten._prelu_kernel.default", lower_prelu, "PRELU", "slope in the activation layout")
      .keep_whole_in_decomposition();
  r.add("aten.softplus.default", lower_softplus, "ABS, NEG, EXP, LOG, ADD, SUB, DIV, MAXIMUM",
        "max(x,0) + log1p(exp(-β|x|))/β, no select; + GREATER/SELECT_V2 only for threshold < 16.6")
      .keep_whole_in_decomposition();
  r.add("aten.mish.default", lower_mish, "softplus ops + TANH + MUL", "x·tanh(softplus(x))")
      .keep_whole_in_decomposition();
  r.add("aten._log_softmax.default", lower_log_softmax, "LOG_SOFTMAX", "not delegated to XNNPACK");
}

}  // namespace pt2tflite::lower
