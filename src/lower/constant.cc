// Tensor factories (full / full_like / scalar_tensor / arange) folded at convert time: their
// outputs have static shapes and known values, so they become constants and the ops that read
// them (masks, index math) see constants too.
#include <cmath>

#include "ir/constants.h"
#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// A constant of y's dtype and static shape holding values[i] (given as doubles, or as int64s
// for integer dtypes so large ids stay exact).
void bind_constant(LowerCtx& ctx, const Value* y, const std::vector<double>& f, const std::vector<int64_t>& i) {
  std::vector<uint8_t> bytes;
  if (ir::is_floating(y->dtype)) {
    std::vector<float> v(f.begin(), f.end());
    bytes = ir::from_float_vector(v, y->dtype);
  } else {
    bytes = ir::from_int_vector(i, y->dtype);
  }
  ctx.bind(y, ctx.new_const(y->dtype, y->shape, std::move(bytes)));
}

// A constant of y's shape filled with the scalar argument `arg`.
void fill(LowerCtx& ctx, const ir::Node& n, std::string_view arg) {
  const Value* y = n.outputs.at(0);
  if (!ir::is_fully_static(y->shape)) return ctx.unsupported("a tensor factory with a dynamic shape is not supported");
  const size_t count = static_cast<size_t>(ir::num_elements(y->shape));
  const bool is_float_arg = std::holds_alternative<double>(*n.find(arg));
  const int64_t as_int = is_float_arg ? ir::saturating_int64(n.get_float(arg)) : n.get_int(arg);
  bind_constant(ctx, y, std::vector<double>(count, n.get_float(arg)), std::vector<int64_t>(count, as_int));
}

void lower_full(LowerCtx& ctx, const ir::Node& n) { fill(ctx, n, "fill_value"); }
void lower_scalar_tensor(LowerCtx& ctx, const ir::Node& n) { fill(ctx, n, "s"); }

// arange whose length is a model input's dynamic dim (BERT's arange(seq_len)): RANGE(start,
// start + length, 1) in int32 at run time, the length read with SHAPE (LowerCtx::runtime_size).
void lower_dynamic_arange(LowerCtx& ctx, const ir::Node& n, double start, double step) {
  const Value* y = n.outputs.at(0);
  if (ir::is_floating(y->dtype) || y->dtype == ir::DType::kBool || step != 1.0 || start != std::floor(start) ||
      std::abs(start) > 1e9)
    return ctx.unsupported("arange with a dynamic length is supported for integers with step 1 and an integer start");
  Value* length = ctx.runtime_size(y->shape.at(0).symbol);
  if (!length) return;
  Value* scalar_length = ctx.make_temp(ir::DType::kInt32, {});
  ctx.emit(ir::TflOp::RESHAPE, {length, ctx.const_i32({}, {0})}, {scalar_length});
  const auto first = static_cast<int32_t>(start);
  Value* from = ctx.const_i32(std::span(&first, 1), {});
  Value* limit = first == 0 ? scalar_length : emit_elementwise(ctx, ir::TflOp::ADD, {scalar_length, from});
  const int32_t one = 1;
  Value* out = y->dtype == ir::DType::kInt32 ? ctx.make_output(y) : ctx.make_temp(ir::DType::kInt32, y->shape);
  ctx.emit(ir::TflOp::RANGE, {from, limit, ctx.const_i32(std::span(&one, 1), {})}, {out});
  if (out->dtype != y->dtype) ctx.bind(y, ctx.cast(out, y->dtype));
}

// arange: start + i·step for i < numel(y), computed in double like PyTorch's CPU kernel.
void lower_arange(LowerCtx& ctx, const ir::Node& n) {
  const Value* y = n.outputs.at(0);
  const double start = n.find("start") ? n.get_float("start") : 0.0;
  const double step = n.find("step") ? n.get_float("step") : 1.0;
  if (!ir::is_fully_static(y->shape)) return lower_dynamic_arange(ctx, n, start, step);
  const int64_t count = y->shape.at(0).size;
  std::vector<double> f(count);
  std::vector<int64_t> i(count);
  for (int64_t k = 0; k < count; ++k) {
    f[k] = start + static_cast<double>(k) * step;
    i[k] = ir::saturating_int64(f[k]);
  }
  bind_constant(ctx, y, f, i);
}

}  // namespace

void register_constant_rules(Registry& r) {
  const char* note = "folded at convert time into a constant; static shapes";
  r.add("aten.full.default", lower_full, "(constant)", note);
  r.add("aten.full_like.default", lower_full, "(constant)", note);
  r.add("aten.scalar_tensor.default", lower_scalar_tensor, "(constant)", note);
  const char* arange_note =
      "folded at convert time into a constant; a dynamic length (a model input's dim): "
      "RANGE + SHAPE, integers with step 1, builtin kernel";
  r.add("aten.arange.default", lower_arange, "(constant), RANGE", arange_note);
  r.add("aten.arange.start", lower_arange, "(constant), RANGE", arange_note);
  r.add("aten.arange.start_step", lower_arange, "(constant), RANGE", arange_note);
}

}  // namespace pt2tflite::lower
