// Activations and softmax. Activations keep whatever layout their input has.
#include <cmath>
#include <limits>
#include <optional>

#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// One-input op that keeps its input's layout.
ir::Node* unary(LowerCtx& ctx, const ir::Node& n, const std::string& op, const Value* x) {
  Value* in = ctx.get_any(x);
  Value* out = ctx.make_output(n.outputs.at(0), ctx.layout_of(x));
  return ctx.emit(op, {in}, {out});
}

std::optional<double> scalar_arg(const ir::Node& n, std::string_view name) {
  if (n.is_none(name)) return std::nullopt;
  return n.get_float(name);
}

// clamp(x, lo, hi): RELU / RELU6 / RELU_N1_TO_1 when the bounds match, else MAXIMUM / MINIMUM.
void lower_clamp_bounds(LowerCtx& ctx, const ir::Node& n, std::optional<double> lo, std::optional<double> hi) {
  const Value* x = n.get_tensor("self");
  if (lo == 0.0 && !hi) return void(unary(ctx, n, "RELU", x));
  if (lo == 0.0 && hi == 6.0) return void(unary(ctx, n, "RELU6", x));
  if (lo == -1.0 && hi == 1.0) return void(unary(ctx, n, "RELU_N1_TO_1", x));
  const Value* y = n.outputs.at(0);
  const Perm layout = ctx.layout_of(x);
  Value* cur = ctx.get_any(x);
  auto step = [&](const char* op, double bound, bool last) {
    Value* out = last ? ctx.make_output(y, layout) : ctx.make_temp(y->dtype, cur->shape);
    ctx.emit(op, {cur, ctx.scalar(y->dtype, bound)}, {out});
    cur = out;
  };
  if (lo) step("MAXIMUM", *lo, !hi);
  if (hi) step("MINIMUM", *hi, true);
  if (!lo && !hi) ctx.bind(y, cur, layout);
}

void lower_relu(LowerCtx& ctx, const ir::Node& n) { unary(ctx, n, "RELU", n.get_tensor("self")); }
void lower_sigmoid(LowerCtx& ctx, const ir::Node& n) { unary(ctx, n, "LOGISTIC", n.get_tensor("self")); }
void lower_tanh(LowerCtx& ctx, const ir::Node& n) { unary(ctx, n, "TANH", n.get_tensor("self")); }
void lower_hardswish(LowerCtx& ctx, const ir::Node& n) { unary(ctx, n, "HARD_SWISH", n.get_tensor("self")); }
void lower_hardtanh(LowerCtx& ctx, const ir::Node& n) {
  lower_clamp_bounds(ctx, n, n.get_float("min_val"), n.get_float("max_val"));
}
void lower_clamp(LowerCtx& ctx, const ir::Node& n) { lower_clamp_bounds(ctx, n, scalar_arg(n, "min"), scalar_arg(n, "max")); }

// hardsigmoid(x) = relu6(x + 3) / 6
void lower_hardsigmoid(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  Value* in = ctx.get_any(x);
  Value* shifted = ctx.make_temp(y->dtype, in->shape);
  ctx.emit("ADD", {in, ctx.scalar(y->dtype, 3.0)}, {shifted})->set("fused_activation", std::string("RELU6"));
  Value* out = ctx.make_output(y, ctx.layout_of(x));
  ctx.emit("MUL", {shifted, ctx.scalar(y->dtype, 1.0 / 6.0)}, {out})->set("fused_activation", std::string("NONE"));
}

// silu(x) = x * sigmoid(x)
void lower_silu(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  Value* in = ctx.get_any(x);
  Value* sig = ctx.make_temp(y->dtype, in->shape);
  ctx.emit("LOGISTIC", {in}, {sig});
  Value* out = ctx.make_output(y, ctx.layout_of(x));
  ctx.emit("MUL", {in, sig}, {out})->set("fused_activation", std::string("NONE"));
}

void lower_gelu(LowerCtx& ctx, const ir::Node& n) {
  const std::string& approx = n.get_string("approximate");
  if (approx != "none" && approx != "tanh") return ctx.unsupported("gelu approximate='" + approx + "' is unknown");
  unary(ctx, n, "GELU", n.get_tensor("self"))->set("approximate", approx == "tanh");
}

// Softmax runs over the stored last axis: pick a layout that puts `dim` last.
void lower_softmax_like(LowerCtx& ctx, const ir::Node& n, const std::string& op) {
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
  if (op == "SOFTMAX") s->set("beta", 1.0);
}

void lower_softmax(LowerCtx& ctx, const ir::Node& n) { lower_softmax_like(ctx, n, "SOFTMAX"); }
void lower_log_softmax(LowerCtx& ctx, const ir::Node& n) { lower_softmax_like(ctx, n, "LOG_SOFTMAX"); }

}  // namespace

void register_activation_rules(Registry& r) {
  r.add("aten.relu.default", lower_relu, "RELU", "fused into the producer when possible");
  r.add("aten.hardtanh.default", lower_hardtanh, "RELU6, RELU_N1_TO_1, MAXIMUM/MINIMUM", "(0,6) → RELU6");
  r.add("aten.clamp.default", lower_clamp, "RELU, RELU6, RELU_N1_TO_1, MAXIMUM/MINIMUM", "scalar bounds");
  r.add("aten.sigmoid.default", lower_sigmoid, "LOGISTIC");
  r.add("aten.tanh.default", lower_tanh, "TANH");
  r.add("aten.hardswish.default", lower_hardswish, "HARD_SWISH", "kept whole by pt2tflite.convert's decomposition table");
  r.add("aten.hardsigmoid.default", lower_hardsigmoid, "ADD(RELU6) + MUL", "relu6(x + 3) / 6");
  r.add("aten.silu.default", lower_silu, "LOGISTIC + MUL");
  r.add("aten.gelu.default", lower_gelu, "GELU", "approximate 'none' and 'tanh'");
  r.add("aten._softmax.default", lower_softmax, "SOFTMAX", "the softmax dim is stored last (TRANSPOSE if needed)");
  r.add("aten._log_softmax.default", lower_log_softmax, "LOG_SOFTMAX", "not delegated to XNNPACK");
}

}  // namespace pt2tflite::lower
