// add / sub / mul / div (tensor and scalar forms) → ADD / SUB / MUL / DIV, maximum / minimum, and
// div with a rounding mode; a constant tensor with a scalar is folded at convert time.
#include "lower/elementwise.h"

#include <cmath>
#include <optional>

#include "ir/constants.h"
#include "ir/int_bounds.h"
#include "lower/rules.h"

namespace pt2tflite::lower {

using ir::Value;

Perm elementwise_layout(LowerCtx& ctx, const Value* out, const std::vector<const ir::Attr*>& operands) {
  for (const ir::Attr* a : operands) {
    const auto* t = std::get_if<Value*>(a);
    if (!t || !*t || (*t)->rank() != out->rank()) continue;
    if (ctx.get_any(*t)->is_const()) continue;
    return ctx.layout_of(*t);
  }
  return {};
}

Value* elementwise_operand(LowerCtx& ctx, const ir::Attr& operand, ir::DType dtype, int rank, const Perm& layout) {
  if (const auto* t = std::get_if<Value*>(&operand)) {
    const Value* v = *t;
    if (v->rank() == rank) return ctx.cast(ctx.get(v, layout), dtype);
    // Lower rank: PyTorch aligns trailing dims. Make the leading 1s explicit, then store the
    // full-rank tensor in the output's layout (a free RESHAPE when the order of the >1 dims
    // is unchanged, as for a per-channel [C, 1, 1] operand of an NHWC tensor).
    ir::Shape full(rank - v->rank(), ir::Dim{1, {}});
    full.insert(full.end(), v->shape.begin(), v->shape.end());
    Value* base = ctx.cast(ctx.get(v, {}), dtype);
    if (!ir::is_fully_static(v->shape) && (layout.empty() || is_identity(layout))) {
      Value* r = ctx.reshape_dynamic(base, full);
      return r ? r : base;
    }
    if (layout.empty() || same_memory_order(full, layout))
      return ctx.reshape(base, ir::sizes_of(physical_shape(full, layout)));
    return ctx.transpose(ctx.reshape(base, ir::sizes_of(full)), layout);
  }
  return ctx.python_scalar(dtype, operand);
}

namespace {

// A Python scalar or a one-element constant tensor, as a double; nullopt otherwise.
std::optional<double> scalar_value(LowerCtx& ctx, const ir::Attr& a) {
  if (const auto* i = std::get_if<int64_t>(&a)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&a)) return *d;
  if (const auto* t = std::get_if<Value*>(&a)) {
    Value* c = ctx.constant(*t);
    if (c && ir::num_elements(c->shape) == 1) return ir::to_float_vector(*c).at(0);
  }
  return std::nullopt;
}

// Folds `op` of a constant tensor with a scalar at convert time (index math such as
// arange(n) * 2 + 1 stays constant). Returns false when the operands are not of that form.
bool fold_with_scalar(LowerCtx& ctx, const Value* y, ir::TflOp op, const ir::Attr& a, const ir::Attr& b) {
  const auto* ta = std::get_if<Value*>(&a);
  Value* ca = ta ? ctx.constant(*ta) : nullptr;
  const std::optional<double> sb = scalar_value(ctx, b);
  if (op != ir::TflOp::ADD && op != ir::TflOp::SUB && op != ir::TflOp::MUL && op != ir::TflOp::DIV)
    return false;  // apply() knows only these
  if (!ca || !sb || ca->shape != y->shape) return false;
  auto apply = [&](auto x, auto s) -> decltype(x) {
    if (op == ir::TflOp::ADD) return x + s;
    if (op == ir::TflOp::SUB) return x - s;
    if (op == ir::TflOp::MUL) return x * s;
    return x / s;
  };
  std::vector<uint8_t> bytes;
  if (ir::is_floating(y->dtype)) {
    std::vector<float> v = ir::to_float_vector(*ca);
    for (float& x : v) x = apply(x, static_cast<float>(*sb));
    bytes = ir::from_float_vector(v, y->dtype);
  } else {
    if (op == ir::TflOp::DIV || *sb != static_cast<double>(static_cast<int64_t>(*sb))) return false;
    std::vector<int64_t> v = ir::to_int_vector(*ca);
    for (int64_t& x : v) x = apply(x, static_cast<int64_t>(*sb));
    bytes = ir::from_int_vector(v, y->dtype);
  }
  ctx.bind(y, ctx.new_const(y->dtype, y->shape, std::move(bytes)));
  return true;
}

}  // namespace

Value* lower_binary_op(LowerCtx& ctx, const ir::Node& n, ir::TflOp op, const ir::Attr& a, const ir::Attr& b) {
  const Value* y = n.outputs.at(0);
  const bool commutes = op == ir::TflOp::ADD || op == ir::TflOp::MUL;
  if (ir::is_fully_static(y->shape) &&
      (fold_with_scalar(ctx, y, op, a, b) || (commutes && fold_with_scalar(ctx, y, op, b, a))))
    return ctx.get_any(y);
  Perm layout = elementwise_layout(ctx, y, {&a, &b});
  Value* lhs = elementwise_operand(ctx, a, y->dtype, y->rank(), layout);
  Value* rhs = elementwise_operand(ctx, b, y->dtype, y->rank(), layout);
  return emit_elementwise(ctx, op, {lhs, rhs}, ctx.make_output(y, layout));
}

Value* emit_elementwise(LowerCtx& ctx, ir::TflOp op, std::vector<Value*> inputs, Value* out) {
  if (!out) out = ctx.make_temp(inputs.at(0)->dtype, inputs.at(0)->shape);
  ir::Node* e = ctx.emit(op, std::move(inputs), {out});
  if (op == ir::TflOp::ADD || op == ir::TflOp::SUB || op == ir::TflOp::MUL || op == ir::TflOp::DIV)
    ir::set_fused_activation(*e, ir::Activation::NONE);
  return out;
}

ir::Node* lower_unary_op(LowerCtx& ctx, const ir::Node& n, ir::TflOp op, const Value* x) {
  Value* in = ctx.get_any(x);
  Value* out = ctx.make_output(n.outputs.at(0), ctx.layout_of(x));
  return ctx.emit(op, {in}, {out});
}

namespace {

// add/sub with alpha: self ± alpha·other. alpha is folded into a scalar operand; a tensor
// operand is scaled by one MUL first.
void lower_add_sub(LowerCtx& ctx, const ir::Node& n, ir::TflOp op) {
  ir::Attr other = *n.find("other");
  const ir::Attr& self = *n.find("self");
  const double alpha = n.get_float("alpha");
  const bool integral_alpha = alpha == std::trunc(alpha) && std::abs(alpha) < 0x1p62;
  if (alpha != 1.0) {
    // An int stays an int (a uint8 x + -100·3 adds 212, modulo 256, not a saturated 0).
    if (const auto* i = std::get_if<int64_t>(&other); i && integral_alpha)
      other = static_cast<int64_t>(static_cast<uint64_t>(*i) * static_cast<uint64_t>(static_cast<int64_t>(alpha)));
    else if (const auto* i = std::get_if<int64_t>(&other))
      other = static_cast<double>(*i) * alpha;
    else if (const auto* d = std::get_if<double>(&other))
      other = *d * alpha;
    else {
      const Value* y = n.outputs.at(0);
      if (!ir::is_floating(y->dtype) && !integral_alpha)
        return ctx.unsupported("a fractional alpha on an integer add/sub");
      const Perm layout = elementwise_layout(ctx, y, {&self, &other});
      Value* lhs = elementwise_operand(ctx, self, y->dtype, y->rank(), layout);
      Value* rhs = elementwise_operand(ctx, other, y->dtype, y->rank(), layout);
      const ir::Attr alpha_scalar = integral_alpha ? ir::Attr(static_cast<int64_t>(alpha)) : ir::Attr(alpha);
      Value* scaled = emit_elementwise(ctx, ir::TflOp::MUL, {rhs, ctx.python_scalar(y->dtype, alpha_scalar)});
      return void(emit_elementwise(ctx, op, {lhs, scaled}, ctx.make_output(y, layout)));
    }
  }
  lower_binary_op(ctx, n, op, self, other);
}

void lower_add(LowerCtx& ctx, const ir::Node& n) { lower_add_sub(ctx, n, ir::TflOp::ADD); }
void lower_sub(LowerCtx& ctx, const ir::Node& n) { lower_add_sub(ctx, n, ir::TflOp::SUB); }
void lower_mul(LowerCtx& ctx, const ir::Node& n) {
  lower_binary_op(ctx, n, ir::TflOp::MUL, *n.find("self"), *n.find("other"));
}
void lower_div(LowerCtx& ctx, const ir::Node& n) {
  if (!ir::is_floating(n.outputs.at(0)->dtype)) return ctx.unsupported("integer division is not supported yet");
  lower_binary_op(ctx, n, ir::TflOp::DIV, *n.find("self"), *n.find("other"));
}
void lower_maximum(LowerCtx& ctx, const ir::Node& n) {
  lower_binary_op(ctx, n, ir::TflOp::MAXIMUM, *n.find("self"), *n.find("other"));
}
// clamp with tensor bounds (Gemma's vision tower): MAXIMUM with min, then MINIMUM with max, each
// bound optional; all three broadcast.
void lower_clamp_tensor(LowerCtx& ctx, const ir::Node& n) {
  const Value* y = n.outputs.at(0);
  const bool has_min = !n.is_none("min"), has_max = !n.is_none("max");
  if (!has_min && !has_max) return ctx.unsupported("clamp needs a min or a max");
  std::vector<const ir::Attr*> operands = {n.find("self")};
  if (has_min) operands.push_back(n.find("min"));
  if (has_max) operands.push_back(n.find("max"));
  const Perm layout = elementwise_layout(ctx, y, operands);
  Value* out = ctx.make_output(y, layout);
  Value* x = elementwise_operand(ctx, *n.find("self"), y->dtype, y->rank(), layout);
  if (has_min) {
    Value* lo = elementwise_operand(ctx, *n.find("min"), y->dtype, y->rank(), layout);
    Value* low = out;
    if (has_max) {  // max(self, min) broadcasts only those two (max may be the one that widens)
      auto shape = ir::is_fully_static(x->shape) && ir::is_fully_static(lo->shape)
                       ? ir::broadcast_sizes(ir::sizes_of(x->shape), ir::sizes_of(lo->shape))
                       : std::nullopt;
      if (!shape) return ctx.unsupported("clamp with tensor bounds of dynamic shapes is not supported yet");
      low = ctx.make_temp(y->dtype, ir::static_shape(*shape));
    }
    x = emit_elementwise(ctx, ir::TflOp::MAXIMUM, {x, lo}, low);
  }
  if (has_max) {
    Value* hi = elementwise_operand(ctx, *n.find("max"), y->dtype, y->rank(), layout);
    emit_elementwise(ctx, ir::TflOp::MINIMUM, {x, hi}, out);
  }
}
void lower_minimum(LowerCtx& ctx, const ir::Node& n) {
  lower_binary_op(ctx, n, ir::TflOp::MINIMUM, *n.find("self"), *n.find("other"));
}

// div with rounding_mode. floor follows PyTorch's div_floor, which is not FLOOR(a / b) (1 // 0.1
// is 9, while 1 / 0.1 rounds to 10): (a - mod(a, b)) / b with FLOOR_MOD's exact remainder,
// rounded to the integer it lies next to. trunc is trunc(a / b) = FLOOR(|q|)·SIGN(q). Integers:
// FLOOR_DIV and DIV (C++ truncation) on int32; int64 in int32 when ir/int_bounds proves it exact.
void lower_div_mode(LowerCtx& ctx, const ir::Node& n) {
  if (n.is_none("rounding_mode")) return lower_div(ctx, n);
  const std::string& mode = n.get_string("rounding_mode");
  const ir::Attr& a = *n.find("self");
  const ir::Attr& b = *n.find("other");
  const Value* y = n.outputs.at(0);
  const Perm layout = elementwise_layout(ctx, y, {&a, &b});
  Value* lhs = elementwise_operand(ctx, a, y->dtype, y->rank(), layout);
  Value* rhs = elementwise_operand(ctx, b, y->dtype, y->rank(), layout);
  Value* out = ctx.make_output(y, layout);
  const bool full_lhs = lhs->shape == out->shape;
  if (!ir::is_floating(y->dtype)) {
    if (mode != "floor" && mode != "trunc") return ctx.unsupported("unknown rounding_mode '" + mode + "'");
    const ir::TflOp op =
        mode == "floor" ? ir::TflOp::FLOOR_DIV : ir::TflOp::DIV;  // TFLite's integer DIV truncates, as C++ does
    if (y->dtype == ir::DType::kInt32) return void(ctx.emit(op, {lhs, rhs}, {out}));
    // int64 (PyTorch's index type): TFLite divides int32 only, exact here when both fit in int32.
    if (y->dtype != ir::DType::kInt64 || !ir::fits_int32(a, b))
      return ctx.unsupported(
          "integer div with rounding_mode runs on int32 only (TFLite FLOOR_DIV / DIV), and "
          "these int64 values are not proven to fit in int32");
    Value* q = ctx.make_temp(ir::DType::kInt32, out->shape);
    ctx.emit(op, {ctx.cast(lhs, ir::DType::kInt32), ctx.cast(rhs, ir::DType::kInt32)}, {q});
    ir::Node* widen = ctx.emit(ir::TflOp::CAST, {q}, {out});
    widen->set("in_data_type", static_cast<int64_t>(ir::DType::kInt32));
    widen->set("out_data_type", static_cast<int64_t>(ir::DType::kInt64));
    return;
  }
  if (mode == "trunc") {
    Value* q =
        emit_elementwise(ctx, ir::TflOp::DIV, {lhs, rhs}, full_lhs ? nullptr : ctx.make_temp(y->dtype, out->shape));
    Value* mag = emit_elementwise(ctx, ir::TflOp::FLOOR, {emit_elementwise(ctx, ir::TflOp::ABS, {q})});
    return void(emit_elementwise(ctx, ir::TflOp::MUL, {mag, emit_elementwise(ctx, ir::TflOp::SIGN, {q})}, out));
  }
  if (mode != "floor") return ctx.unsupported("unknown rounding_mode '" + mode + "'");
  Value* mod =
      emit_elementwise(ctx, ir::TflOp::FLOOR_MOD, {lhs, rhs}, full_lhs ? nullptr : ctx.make_temp(y->dtype, out->shape));
  Value* q =
      emit_elementwise(ctx, ir::TflOp::DIV,
                       {emit_elementwise(ctx, ir::TflOp::SUB, {lhs, mod}, ctx.make_temp(y->dtype, out->shape)), rhs});
  emit_elementwise(ctx, ir::TflOp::ROUND, {q}, out);
}

// PyTorch's remainder (Python's %) takes the divisor's sign, as TFLite's FLOOR_MOD does.
void lower_remainder(LowerCtx& ctx, const ir::Node& n) {
  lower_binary_op(ctx, n, ir::TflOp::FLOOR_MOD, *n.find("self"), *n.find("other"));
}

void lower_rsub(LowerCtx& ctx, const ir::Node& n) {  // other - alpha·self
  if (n.get_float("alpha") != 1.0) return ctx.unsupported("rsub with alpha != 1 is not supported yet");
  lower_binary_op(ctx, n, ir::TflOp::SUB, *n.find("other"), *n.find("self"));
}

}  // namespace

void register_elementwise_rules(Registry& r) {
  const char* bcast = "PyTorch broadcasting; scalars become rank-0 constants; operands follow the activation layout";
  r.add("aten.add.Tensor", lower_add, "ADD (MUL + ADD for alpha != 1)", bcast);
  r.add("aten.add.Scalar", lower_add, "ADD", bcast);
  r.add("aten.sub.Tensor", lower_sub, "SUB (MUL + SUB for alpha != 1)", bcast);
  r.add("aten.sub.Scalar", lower_sub, "SUB", bcast);
  r.add("aten.rsub.Scalar", lower_rsub, "SUB", bcast);
  r.add("aten.mul.Tensor", lower_mul, "MUL", bcast);
  r.add("aten.mul.Scalar", lower_mul, "MUL", bcast);
  r.add("aten.div.Tensor", lower_div, "DIV", "floating point only; " + std::string(bcast));
  r.add("aten.div.Scalar", lower_div, "DIV", "floating point only; " + std::string(bcast));
  r.add("aten.div.Tensor_mode", lower_div_mode,
        "FLOOR_MOD + SUB + DIV + ROUND; DIV + ABS + FLOOR + SIGN + MUL; FLOOR_DIV",
        "floor: (a - mod(a, b)) / b rounded, as PyTorch computes it (1 // 0.1 = 9); trunc: FLOOR(|a/b|)·SIGN(a/b); "
        "b = 0 gives NaN where PyTorch gives ±inf; integers: int32, and int64 computed in int32 (CAST) where the graph "
        "proves the values fit (indices from topk/argmax/sort, arange, constants); FLOOR_MOD and SIGN are not "
        "delegated to XNNPACK");
  r.add("aten.remainder.Tensor", lower_remainder, "FLOOR_MOD",
        "the divisor's sign, as Python's %; not delegated to XNNPACK; " + std::string(bcast));
  r.add("aten.remainder.Scalar", lower_remainder, "FLOOR_MOD",
        "the divisor's sign, as Python's %; not delegated to XNNPACK; " + std::string(bcast));
  r.add("aten.maximum.default", lower_maximum, "MAXIMUM", bcast);
  r.add("aten.clamp.Tensor", lower_clamp_tensor, "MAXIMUM + MINIMUM",
        "tensor bounds, either may be None; " + std::string(bcast));
  r.add("aten.minimum.default", lower_minimum, "MINIMUM", bcast);
}

}  // namespace pt2tflite::lower
