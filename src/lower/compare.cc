// Comparisons, boolean logic and selection: eq / ne / lt / le / gt / ge → EQUAL ... GREATER_EQUAL,
// logical_not / and / or → LOGICAL_*, where.self → SELECT_V2. None of them is delegated to
// XNNPACK; they run on the builtin kernels.
#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// The dtype PyTorch compares in: torch.result_type of the operands (a uint8 tensor with the int
// -2 compares in uint8, with the int wrapped to 254; uint8 with int8 compares in int16).
ir::DType compare_dtype(const ir::Attr& a, const ir::Attr& b) {
  std::vector<ir::PromotionOperand> operands;
  for (const ir::Attr* x : {&a, &b}) {
    if (const auto* v = std::get_if<Value*>(x))
      operands.push_back({(*v)->dtype, (*v)->rank() > 0 ? ir::PromotionRank::kDimmed : ir::PromotionRank::kZeroDim});
    else if (std::holds_alternative<double>(*x))
      operands.push_back({ir::DType::kFloat64, ir::PromotionRank::kWrappedNumber});
    else if (std::holds_alternative<int64_t>(*x))
      operands.push_back({ir::DType::kInt64, ir::PromotionRank::kWrappedNumber});
    else
      operands.push_back({ir::DType::kBool, ir::PromotionRank::kWrappedNumber});
  }
  return ir::result_type(operands);
}

void lower_compare(LowerCtx& ctx, const ir::Node& n, ir::TflOp op) {
  const ir::Attr& a = *n.find("self");
  const ir::Attr& b = *n.find("other");
  const Value* y = n.outputs.at(0);
  const ir::DType t = compare_dtype(a, b);
  const Perm layout = elementwise_layout(ctx, y, {&a, &b});
  Value* lhs = elementwise_operand(ctx, a, t, y->rank(), layout);
  Value* rhs = elementwise_operand(ctx, b, t, y->rank(), layout);
  emit_elementwise(ctx, op, {lhs, rhs}, ctx.make_output(y, layout));
}

void lower_eq(LowerCtx& ctx, const ir::Node& n) { lower_compare(ctx, n, ir::TflOp::EQUAL); }
void lower_ne(LowerCtx& ctx, const ir::Node& n) { lower_compare(ctx, n, ir::TflOp::NOT_EQUAL); }
void lower_lt(LowerCtx& ctx, const ir::Node& n) { lower_compare(ctx, n, ir::TflOp::LESS); }
void lower_le(LowerCtx& ctx, const ir::Node& n) { lower_compare(ctx, n, ir::TflOp::LESS_EQUAL); }
void lower_gt(LowerCtx& ctx, const ir::Node& n) { lower_compare(ctx, n, ir::TflOp::GREATER); }
void lower_ge(LowerCtx& ctx, const ir::Node& n) { lower_compare(ctx, n, ir::TflOp::GREATER_EQUAL); }

// A tensor as bool: non-bool tensors are "x != 0", as PyTorch's logical ops read them.
Value* as_bool(LowerCtx& ctx, Value* v) {
  if (v->dtype == ir::DType::kBool) return v;
  return emit_elementwise(ctx, ir::TflOp::NOT_EQUAL, {v, ctx.scalar(v->dtype, 0)},
                          ctx.make_temp(ir::DType::kBool, v->shape));
}

void lower_logical_not(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  if (y->dtype != ir::DType::kBool) return ctx.unsupported("logical_not with a non-bool output is not supported");
  const Perm layout = ctx.layout_of(x);
  emit_elementwise(ctx, ir::TflOp::LOGICAL_NOT, {as_bool(ctx, ctx.get_any(x))}, ctx.make_output(y, layout));
}

// isnan(x) = x != x: NaN is the only value unequal to itself (IEEE 754, which NOT_EQUAL's kernel
// follows); integer and bool tensors give all false, as in PyTorch.
void lower_isnan(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Perm layout = ctx.layout_of(x);
  Value* v = ctx.get_any(x);
  emit_elementwise(ctx, ir::TflOp::NOT_EQUAL, {v, v}, ctx.make_output(n.outputs.at(0), layout));
}

void lower_logical_binary(LowerCtx& ctx, const ir::Node& n, ir::TflOp op) {
  const ir::Attr& a = *n.find("self");
  const ir::Attr& b = *n.find("other");
  const Value* y = n.outputs.at(0);
  if (y->dtype != ir::DType::kBool) return ctx.unsupported("logical ops with a non-bool output are not supported");
  const Perm layout = elementwise_layout(ctx, y, {&a, &b});
  auto operand = [&](const ir::Attr& x) {
    const Value* v = std::get<Value*>(x);
    return as_bool(ctx, elementwise_operand(ctx, x, v->dtype, y->rank(), layout));
  };
  emit_elementwise(ctx, op, {operand(a), operand(b)}, ctx.make_output(y, layout));
}

void lower_logical_and(LowerCtx& ctx, const ir::Node& n) { lower_logical_binary(ctx, n, ir::TflOp::LOGICAL_AND); }
void lower_logical_or(LowerCtx& ctx, const ir::Node& n) { lower_logical_binary(ctx, n, ir::TflOp::LOGICAL_OR); }

// `&`, `|` and `~` on masks: the bitwise ops are the logical ones for bool tensors.
void lower_bitwise(LowerCtx& ctx, const ir::Node& n, void (*logical)(LowerCtx&, const ir::Node&)) {
  if (n.outputs.at(0)->dtype != ir::DType::kBool) return ctx.unsupported("bitwise ops on integers are not supported");
  logical(ctx, n);
}
void lower_bitwise_and(LowerCtx& ctx, const ir::Node& n) { lower_bitwise(ctx, n, lower_logical_and); }
void lower_bitwise_or(LowerCtx& ctx, const ir::Node& n) { lower_bitwise(ctx, n, lower_logical_or); }
void lower_bitwise_not(LowerCtx& ctx, const ir::Node& n) { lower_bitwise(ctx, n, lower_logical_not); }

// where(condition, self, other): SELECT_V2 broadcasts all three operands like PyTorch.
void lower_where(LowerCtx& ctx, const ir::Node& n) {
  const ir::Attr& c = *n.find("condition");
  const ir::Attr& a = *n.find("self");
  const ir::Attr& b = *n.find("other");
  const Value* y = n.outputs.at(0);
  const Perm layout = elementwise_layout(ctx, y, {&a, &b, &c});
  Value* cond = as_bool(ctx, elementwise_operand(ctx, c, std::get<Value*>(c)->dtype, y->rank(), layout));
  Value* lhs = elementwise_operand(ctx, a, y->dtype, y->rank(), layout);
  Value* rhs = elementwise_operand(ctx, b, y->dtype, y->rank(), layout);
  emit_elementwise(ctx, ir::TflOp::SELECT_V2, {cond, lhs, rhs}, ctx.make_output(y, layout));
}

}  // namespace

void register_compare_rules(Registry& r) {
  const char* note = "PyTorch type promotion and broadcasting; not delegated to XNNPACK";
  r.add("aten.eq.Scalar", lower_eq, "EQUAL", note);
  r.add("aten.ne.Scalar", lower_ne, "NOT_EQUAL", note);
  r.add("aten.lt.Scalar", lower_lt, "LESS", note);
  r.add("aten.le.Scalar", lower_le, "LESS_EQUAL", note);
  r.add("aten.gt.Scalar", lower_gt, "GREATER", note);
  r.add("aten.ge.Scalar", lower_ge, "GREATER_EQUAL", note);
  r.add("aten.eq.Tensor", lower_eq, "EQUAL", note);
  r.add("aten.ne.Tensor", lower_ne, "NOT_EQUAL", note);
  r.add("aten.lt.Tensor", lower_lt, "LESS", note);
  r.add("aten.le.Tensor", lower_le, "LESS_EQUAL", note);
  r.add("aten.gt.Tensor", lower_gt, "GREATER", note);
  r.add("aten.ge.Tensor", lower_ge, "GREATER_EQUAL", note);
  r.add("aten.logical_not.default", lower_logical_not, "LOGICAL_NOT", "non-bool inputs compare != 0 first");
  r.add("aten.isnan.default", lower_isnan, "NOT_EQUAL", "x != x; not delegated to XNNPACK");
  r.add("aten.logical_and.default", lower_logical_and, "LOGICAL_AND", "non-bool inputs compare != 0 first");
  r.add("aten.logical_or.default", lower_logical_or, "LOGICAL_OR", "non-bool inputs compare != 0 first");
  r.add("aten.bitwise_and.Tensor", lower_bitwise_and, "LOGICAL_AND", "bool tensors only");
  r.add("aten.bitwise_or.Tensor", lower_bitwise_or, "LOGICAL_OR", "bool tensors only");
  r.add("aten.bitwise_not.default", lower_bitwise_not, "LOGICAL_NOT", "bool tensors only");
  r.add("aten.where.self", lower_where, "SELECT_V2", "broadcasting condition and operands; not delegated to XNNPACK");
}

}  // namespace pt2tflite::lower
