// Unary math: exp / log / log1p / sqrt / rsqrt / neg / abs / sin / cos / sign / floor / ceil / round /
// reciprocal and pow with a scalar exponent. Each keeps its input's layout.
#include "lower/math.h"

#include <cmath>

#include "ir/constants.h"
#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {

using ir::Value;

Value* emit_log1p(LowerCtx& ctx, Value* y) {
  // LOG(1 + y). Correcting for the rounding of 1 + y (Goldberg's log(u) - ((u-1)-y)/u) buys
  // nothing here: XNNPACK's LOG itself has an absolute error of about 1e-7 near 1 (measured), so
  // tiny y keep an absolute, not a relative, accuracy of ~1e-7 either way.
  return emit_elementwise(ctx, ir::TflOp::LOG, {emit_elementwise(ctx, ir::TflOp::ADD, {y, ctx.scalar(y->dtype, 1.0)})});
}

namespace {

bool check_float(LowerCtx& ctx, const Value* x) {
  if (ir::is_floating(x->dtype)) return true;
  ctx.unsupported("this op is lowered for floating-point tensors only");
  return false;
}

void lower_exp(LowerCtx& ctx, const ir::Node& n) { lower_unary_op(ctx, n, ir::TflOp::EXP, n.get_tensor("self")); }
void lower_log(LowerCtx& ctx, const ir::Node& n) { lower_unary_op(ctx, n, ir::TflOp::LOG, n.get_tensor("self")); }
void lower_sqrt(LowerCtx& ctx, const ir::Node& n) { lower_unary_op(ctx, n, ir::TflOp::SQRT, n.get_tensor("self")); }
void lower_rsqrt(LowerCtx& ctx, const ir::Node& n) { lower_unary_op(ctx, n, ir::TflOp::RSQRT, n.get_tensor("self")); }
void lower_neg(LowerCtx& ctx, const ir::Node& n) { lower_unary_op(ctx, n, ir::TflOp::NEG, n.get_tensor("self")); }
void lower_abs(LowerCtx& ctx, const ir::Node& n) {
  // LiteRT's ABS kernel takes float32, int8, int16 and int32: an int64 ABS would not even load.
  if (n.get_tensor("self")->dtype == ir::DType::kInt64)
    return ctx.unsupported("abs of a run-time int64 tensor (TFLite ABS has no int64 kernel)");
  lower_unary_op(ctx, n, ir::TflOp::ABS, n.get_tensor("self"));
}

void lower_sin(LowerCtx& ctx, const ir::Node& n) {
  if (check_float(ctx, n.get_tensor("self"))) lower_unary_op(ctx, n, ir::TflOp::SIN, n.get_tensor("self"));
}
void lower_cos(LowerCtx& ctx, const ir::Node& n) {
  if (check_float(ctx, n.get_tensor("self"))) lower_unary_op(ctx, n, ir::TflOp::COS, n.get_tensor("self"));
}
void lower_sign(LowerCtx& ctx, const ir::Node& n) {
  if (check_float(ctx, n.get_tensor("self"))) lower_unary_op(ctx, n, ir::TflOp::SIGN, n.get_tensor("self"));
}

// floor / ceil / round of an integer tensor is the tensor itself.
void lower_rounding(LowerCtx& ctx, const ir::Node& n, ir::TflOp op) {
  const Value* x = n.get_tensor("self");
  if (!ir::is_floating(x->dtype)) return ctx.bind(n.outputs.at(0), ctx.get_any(x), ctx.layout_of(x));
  lower_unary_op(ctx, n, op, x);
}
void lower_floor(LowerCtx& ctx, const ir::Node& n) { lower_rounding(ctx, n, ir::TflOp::FLOOR); }
void lower_ceil(LowerCtx& ctx, const ir::Node& n) { lower_rounding(ctx, n, ir::TflOp::CEIL); }
void lower_round(LowerCtx& ctx, const ir::Node& n) { lower_rounding(ctx, n, ir::TflOp::ROUND); }

void lower_reciprocal(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  if (!check_float(ctx, x) || y->dtype != x->dtype) return;
  emit_elementwise(ctx, ir::TflOp::DIV, {ctx.scalar(y->dtype, 1.0), ctx.get_any(x)},
                   ctx.make_output(y, ctx.layout_of(x)));
}

void lower_log1p(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  if (!check_float(ctx, x)) return;
  ctx.bind(n.outputs.at(0), emit_log1p(ctx, ctx.get_any(x)), ctx.layout_of(x));
}

// pow(x, e): the exponents norms and activations use get exact delegated ops; others POW.
void lower_pow_scalar(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const double e = n.get_float("exponent");
  if (y->dtype != x->dtype) return ctx.unsupported("pow that changes the dtype is not supported yet");
  Value* in = ctx.get_any(x);
  const Perm layout = ctx.layout_of(x);
  if (e == 1.0) return ctx.bind(y, in, layout);
  if (e == 2.0) return void(emit_elementwise(ctx, ir::TflOp::MUL, {in, in}, ctx.make_output(y, layout)));
  if (!check_float(ctx, x)) return;
  if (e == 0.5) return void(lower_unary_op(ctx, n, ir::TflOp::SQRT, x));
  if (e == -0.5) return void(lower_unary_op(ctx, n, ir::TflOp::RSQRT, x));
  if (e == -1.0)
    return void(emit_elementwise(ctx, ir::TflOp::DIV, {ctx.scalar(y->dtype, 1.0), in}, ctx.make_output(y, layout)));
  emit_elementwise(ctx, ir::TflOp::POW, {in, ctx.scalar(y->dtype, e)}, ctx.make_output(y, layout));
}

// fmod(x, c) = x - trunc(x / c) * c (the sign of x). Index math on constants (Swin's window
// shifts) folds at convert time. At run time: TFLite has only FLOOR_MOD (the divisor's sign),
// which agrees with fmod on non-negative operands, so fmod(x, c) = SIGN(x) · FLOOR_MOD(|x|, |c|),
// exact as PyTorch's std::fmod is (no division that could round to the wrong integer).
void lower_fmod(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const double c = n.get_float("other");
  if (c == 0) return ctx.unsupported("fmod by zero");
  Value* xc = ctx.constant(x);
  if (!xc) {
    if (!ir::is_floating(x->dtype) || y->dtype != x->dtype)
      return ctx.unsupported("fmod of a run-time integer tensor is not supported (constants fold)");
    Value* in = ctx.get_any(x);
    Value* mod = emit_elementwise(ctx, ir::TflOp::FLOOR_MOD,
                                  {emit_elementwise(ctx, ir::TflOp::ABS, {in}), ctx.scalar(y->dtype, std::fabs(c))});
    emit_elementwise(ctx, ir::TflOp::MUL, {emit_elementwise(ctx, ir::TflOp::SIGN, {in}), mod},
                     ctx.make_output(y, ctx.layout_of(x)));
    return;
  }
  std::vector<uint8_t> bytes;
  if (ir::is_floating(y->dtype)) {
    std::vector<float> v = ir::to_float_vector(*xc);
    for (float& f : v) f = static_cast<float>(std::fmod(static_cast<double>(f), c));
    bytes = ir::from_float_vector(v, y->dtype);
  } else {
    std::vector<int64_t> v = ir::to_int_vector(*xc);
    for (int64_t& i : v) i %= static_cast<int64_t>(c);  // C++ % truncates, as fmod does
    bytes = ir::from_int_vector(v, y->dtype);
  }
  ctx.bind(y, ctx.new_const(y->dtype, y->shape, std::move(bytes)));
}

}  // namespace

void register_math_rules(Registry& r) {
  r.add("aten.fmod.Scalar", lower_fmod, "(folded) / ABS + FLOOR_MOD + SIGN + MUL",
        "constants fold (index math); a run-time float tensor: SIGN(x)·FLOOR_MOD(|x|, |c|), exact; FLOOR_MOD and "
        "SIGN are not delegated to XNNPACK; run-time integer tensors are refused");
  r.add("aten.exp.default", lower_exp, "EXP");
  r.add("aten.log.default", lower_log, "LOG");
  r.add("aten.log1p.default", lower_log1p, "ADD, LOG",
        "LOG(1 + x): absolute error ~1e-7 for tiny x (relative accuracy is lost below ~1e-3)");
  r.add("aten.sqrt.default", lower_sqrt, "SQRT");
  r.add("aten.rsqrt.default", lower_rsqrt, "RSQRT");
  r.add("aten.neg.default", lower_neg, "NEG");
  r.add("aten.sin.default", lower_sin, "SIN", "floating point only");
  r.add("aten.cos.default", lower_cos, "COS", "floating point only");
  r.add("aten.sign.default", lower_sign, "SIGN", "floating point only; not delegated to XNNPACK");
  r.add("aten.floor.default", lower_floor, "FLOOR", "integer tensors: no-op");
  r.add("aten.ceil.default", lower_ceil, "CEIL", "integer tensors: no-op");
  r.add("aten.round.default", lower_round, "ROUND", "half to even, as PyTorch; integer tensors: no-op");
  r.add("aten.reciprocal.default", lower_reciprocal, "DIV", "1 / x; floating point only");
  r.add("aten.abs.default", lower_abs, "ABS", "not on run-time int64 tensors (no LiteRT kernel)");
  r.add("aten.pow.Tensor_Scalar", lower_pow_scalar, "MUL, SQRT, RSQRT, DIV, POW",
        "x^2 → MUL(x, x), x^0.5 → SQRT, x^-0.5 → RSQRT, x^-1 → DIV, x^1 → nothing; other exponents → POW "
        "(not delegated to XNNPACK); integer tensors only with exponent 1 or 2");
}

}  // namespace pt2tflite::lower
