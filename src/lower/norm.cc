// Normalizations. Batch norm after a convolution is folded into it earlier (passes/
// fold_batchnorm); a standalone one becomes a per-channel MUL + ADD with convert-time constants.
// Layer and group norm compute their statistics with MEAN, SUB, MUL, ADD and RSQRT, which XNNPACK
// all takes, in the input's stored layout.
#include <algorithm>
#include <cmath>

#include "ir/constants.h"
#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

void lower_batch_norm(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("input");
  const Value* y = n.outputs.at(0);
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i] && ctx.uses(n.outputs[i]) > 0)
      return ctx.unsupported("batch-norm statistics outputs are used; only the normalized output is supported");
  const Value* w = n.get_tensor("weight");
  const Value* b = n.get_tensor("bias");
  Value* mean = ctx.constant(n.get_tensor("running_mean"));
  Value* var = ctx.constant(n.get_tensor("running_var"));
  Value* wc = w ? ctx.constant(w) : nullptr;
  Value* bc = b ? ctx.constant(b) : nullptr;
  if (!mean || !var || (w && !wc) || (b && !bc))
    return ctx.unsupported("batch norm needs constant statistics and affine parameters");
  const double eps = n.get_float("eps");
  auto m = ir::to_float_vector(*mean), v = ir::to_float_vector(*var);
  const int64_t c = static_cast<int64_t>(m.size());
  std::vector<float> scale(c), shift(c);
  auto wv = wc ? ir::to_float_vector(*wc) : std::vector<float>(c, 1.0f);
  auto bv = bc ? ir::to_float_vector(*bc) : std::vector<float>(c, 0.0f);
  for (int64_t i = 0; i < c; ++i) {
    scale[i] = static_cast<float>(wv[i] / std::sqrt(static_cast<double>(v[i]) + eps));
    shift[i] = static_cast<float>(bv[i] - m[i] * scale[i]);
  }
  // Per-channel constants, stored full-rank with C at the channel's stored position.
  const int rank = x->rank();
  Perm layout = elementwise_layout(ctx, y, {n.find("input")});
  Value* in = ctx.get(x, layout);
  std::vector<int64_t> full(rank, 1);
  const Perm f = layout.empty() ? identity_perm(rank) : layout;
  for (int p = 0; p < rank; ++p)
    if (f[p] == 1) full[p] = c;
  Value* sc = ctx.reshape(ctx.const_f32(scale, {c}), full);
  Value* sh = ctx.reshape(ctx.const_f32(shift, {c}), full);
  Value* mid = ctx.make_temp(y->dtype, in->shape);
  ir::set_fused_activation(*ctx.emit(ir::TflOp::MUL, {in, sc}, {mid}), ir::Activation::NONE);
  Value* out = ctx.make_output(y, layout);
  ir::set_fused_activation(*ctx.emit(ir::TflOp::ADD, {mid, sh}, {out}), ir::Activation::NONE);
}

// True when the statistics outputs (mean, rstd / invstd) of a normalization are read.
bool stats_used(LowerCtx& ctx, const ir::Node& n) {
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i] && ctx.uses(n.outputs[i]) > 0) {
      ctx.unsupported("the normalization's statistics outputs are used; only the normalized output is supported");
      return true;
    }
  return false;
}

// The mean over stored axes `axes`, one MEAN per axis, the last axis first. One MEAN over several
// axes is exact in real arithmetic but not in the builtin kernel: its float MEAN sums every reduced
// element into one float32 accumulator in turn (only a MEAN over the last axis alone takes a
// vectorized path), so a group norm over ~1,000 elements drifted by 1e-5 relative, which a
// following ill-conditioned layer norm amplified past the bar (difftest 0:9420). A mean of
// per-axis means is the same mean (every slice has the same count) and each sum stays short.
Value* mean_over(LowerCtx& ctx, Value* v, std::vector<int32_t> axes) {
  std::sort(axes.rbegin(), axes.rend());
  for (int32_t a : axes) {
    ir::Shape s = v->shape;
    s[a].size = 1;
    Value* out = ctx.make_temp(v->dtype, s);
    ctx.emit(ir::TflOp::MEAN, {v, ctx.const_i32(std::vector<int32_t>{a}, {1})}, {out})->set("keep_dims", true);
    v = out;
  }
  return v;
}

// (x - mean) · rsqrt(var + eps) over stored axes `axes`, with the biased variance.
Value* normalize(LowerCtx& ctx, Value* x, const std::vector<int32_t>& axes, double eps) {
  Value* d = emit_elementwise(ctx, ir::TflOp::SUB, {x, mean_over(ctx, x, axes)});
  Value* var = mean_over(ctx, emit_elementwise(ctx, ir::TflOp::MUL, {d, d}), axes);
  Value* rstd = emit_elementwise(ctx, ir::TflOp::RSQRT,
                                 {emit_elementwise(ctx, ir::TflOp::ADD, {var, ctx.scalar(x->dtype, eps)})});
  return emit_elementwise(ctx, ir::TflOp::MUL, {d, rstd});
}

// Binds y = x·weight + bias (optional operands already shaped to broadcast), stored in `layout`.
void bind_affine(LowerCtx& ctx, Value* x, Value* weight, Value* bias, const Value* y, const Perm& layout) {
  if (!weight && !bias) return ctx.bind(y, x, layout);
  if (weight) x = emit_elementwise(ctx, ir::TflOp::MUL, {x, weight}, bias ? nullptr : ctx.make_output(y, layout));
  if (bias) emit_elementwise(ctx, ir::TflOp::ADD, {x, bias}, ctx.make_output(y, layout));
}

// native_layer_norm(input, normalized_shape, weight?, bias?, eps) over the last k logical dims.
void lower_layer_norm(LowerCtx& ctx, const ir::Node& n) {
  if (stats_used(ctx, n)) return;
  const Value* x = n.get_tensor("input");
  const Value* y = n.outputs.at(0);
  if (!ir::is_floating(x->dtype)) return ctx.unsupported("layer norm of a non-float tensor");
  const int rank = x->rank();
  const int k = static_cast<int>(n.get_ints("normalized_shape").size());
  const Perm layout = ctx.layout_of(x);
  const Perm full = layout.empty() ? identity_perm(rank) : layout;
  std::vector<int32_t> axes;
  for (int p = 0; p < rank; ++p)
    if (full[p] >= rank - k) axes.push_back(p);
  Value* normed = normalize(ctx, ctx.get_any(x), axes, n.get_float("eps"));
  auto param = [&](const char* name) -> Value* {
    if (n.is_none(name)) return nullptr;
    return elementwise_operand(ctx, *n.find(name), y->dtype, rank, layout);
  };
  bind_affine(ctx, normed, param("weight"), param("bias"), y, layout);
}

// native_group_norm(input, weight?, bias?, N, C, HxW, group, eps). Computed channels-last:
// [N, spatial..., C] viewed as [N, S, G, C/G] has each group's elements on axes 1 and 3.
void lower_group_norm(LowerCtx& ctx, const ir::Node& n) {
  if (stats_used(ctx, n)) return;
  const Value* x = n.get_tensor("input");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  if (!ir::is_floating(x->dtype)) return ctx.unsupported("group norm of a non-float tensor");
  if (rank < 2 || !ir::is_fully_static(x->shape)) return ctx.unsupported("group norm needs a static [N, C, ...] input");
  const int64_t N = x->shape[0].size, C = x->shape[1].size, G = n.get_int("group");
  const int64_t S = ir::num_elements(x->shape) / (N * C);
  const Perm layout = rank >= 3 ? channels_last_perm(rank) : Perm{};
  Value* in = ctx.get(x, layout);
  Value* grouped = ctx.reshape(in, {N, S, G, C / G});
  Value* normed = ctx.reshape(normalize(ctx, grouped, {1, 3}, n.get_float("eps")), ir::sizes_of(in->shape));
  auto param = [&](const char* name) -> Value* {
    const Value* p = n.get_tensor(name);
    if (!p) return nullptr;
    return ctx.cast(ctx.get(p, {}), y->dtype);  // [C] broadcasts over the stored last axis
  };
  bind_affine(ctx, normed, param("weight"), param("bias"), y, layout);
}

// _native_batch_norm_legit.no_stats(input, weight?, bias?, training, momentum, eps): batch norm
// with statistics of the input itself (training mode without running statistics, as in weight
// standardization): normalized over every logical dim but the channel dim 1, in the stored layout.
void lower_batch_norm_no_stats(LowerCtx& ctx, const ir::Node& n) {
  if (stats_used(ctx, n)) return;
  const Value* x = n.get_tensor("input");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  if (!ir::is_floating(x->dtype) || rank < 2 || !ir::is_fully_static(x->shape))
    return ctx.unsupported("batch norm with input statistics needs a static float [N, C, ...] tensor");
  const Perm layout = ctx.layout_of(x);
  const Perm full = layout.empty() ? identity_perm(rank) : layout;
  std::vector<int32_t> axes;
  std::vector<int64_t> channel_shape(rank, 1);
  for (int p = 0; p < rank; ++p) {
    if (full[p] != 1)
      axes.push_back(p);
    else
      channel_shape[p] = x->shape[1].size;
  }
  Value* normed = normalize(ctx, ctx.get_any(x), axes, n.get_float("eps"));
  auto param = [&](const char* name) -> Value* {
    const Value* p = n.get_tensor(name);
    if (!p) return nullptr;
    return ctx.reshape(ctx.cast(ctx.get(p, {}), y->dtype), channel_shape);
  };
  bind_affine(ctx, normed, param("weight"), param("bias"), y, layout);
}

}  // namespace

void register_norm_rules(Registry& r) {
  r.add("aten._native_batch_norm_legit.no_stats", lower_batch_norm_no_stats, "MEAN, SUB, MUL, ADD, RSQRT",
        "statistics of the input over every dim but 1 (weight standardization, training-mode batch norm); "
        "mean/rstd outputs must be unused; static shapes");
  r.add("aten._native_batch_norm_legit_no_training.default", lower_batch_norm, "(folded into conv) / MUL + ADD",
        "eval-mode batch norm; folded into a preceding convolution by the fold_batchnorm pass; after a "
        "linear or transposed convolution its MUL + ADD fold into that op (fold_channel_affine)");
  r.add("aten.native_layer_norm.default", lower_layer_norm, "MEAN, SUB, MUL, ADD, RSQRT",
        "statistics over the last dims in the stored layout; mean/rstd outputs must be unused");
  r.add("aten.native_group_norm.default", lower_group_norm, "RESHAPE, MEAN, SUB, MUL, ADD, RSQRT",
        "channels-last, groups as [N, S, G, C/G] with MEAN over axes 1 and 3; static shapes");
}

}  // namespace pt2tflite::lower
