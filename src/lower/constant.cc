// Tensor factories (full / full_like / scalar_tensor / arange) folded at convert time: their
// outputs have static shapes and known values, so they become constants and the ops that read
// them (masks, index math) see constants too.
#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "ir/constants.h"
#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// Factories are folded only up to this many elements (2^26: an 8192 x 8192 mask), so folding
// holds at most 16 bytes per element while it runs; a fuzzed arange of 2^31 elements asked for
// 16 GB. A bigger one is refused by name.
constexpr int64_t kMaxFoldedFactoryElements = int64_t{1} << 26;

// The element count of y's static shape, or nullopt (after reporting) when it is too big to fold.
std::optional<size_t> foldable_count(LowerCtx& ctx, const Value* y) {
  const int64_t count = ir::num_elements(y->shape);
  if (count <= kMaxFoldedFactoryElements) return static_cast<size_t>(count);
  ctx.unsupported("a tensor factory of " + std::to_string(count) + " elements is above the " +
                  std::to_string(kMaxFoldedFactoryElements) + " that are folded into a constant");
  return std::nullopt;
}

// A constant of y's shape filled with the scalar argument `arg`: one element encoded in y's
// dtype, repeated.
void fill(LowerCtx& ctx, const ir::Node& n, std::string_view arg) {
  const Value* y = n.outputs.at(0);
  if (!ir::is_fully_static(y->shape)) return ctx.unsupported("a tensor factory with a dynamic shape is not supported");
  const std::optional<size_t> count = foldable_count(ctx, y);
  if (!count) return;
  const bool is_float_arg = std::holds_alternative<double>(*n.find(arg));
  const int64_t as_int = is_float_arg ? ir::saturating_int64(n.get_float(arg)) : n.get_int(arg);
  const float as_float = static_cast<float>(n.get_float(arg));
  const std::vector<uint8_t> one = ir::is_floating(y->dtype) ? ir::from_float_vector(std::span(&as_float, 1), y->dtype)
                                                             : ir::from_int_vector(std::span(&as_int, 1), y->dtype);
  std::vector<uint8_t> bytes(*count * one.size());
  for (size_t k = 0; k < *count; ++k) std::memcpy(bytes.data() + k * one.size(), one.data(), one.size());
  ctx.bind(y, ctx.new_const(y->dtype, y->shape, std::move(bytes)));
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
  const std::optional<size_t> count = foldable_count(ctx, y);
  if (!count) return;
  std::vector<uint8_t> bytes;
  if (ir::is_floating(y->dtype)) {
    std::vector<float> f(*count);
    for (size_t k = 0; k < *count; ++k) f[k] = static_cast<float>(start + static_cast<double>(k) * step);
    bytes = ir::from_float_vector(f, y->dtype);
  } else {
    std::vector<int64_t> i(*count);
    for (size_t k = 0; k < *count; ++k) i[k] = ir::saturating_int64(start + static_cast<double>(k) * step);
    bytes = ir::from_int_vector(i, y->dtype);
  }
  ctx.bind(y, ctx.new_const(y->dtype, y->shape, std::move(bytes)));
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
