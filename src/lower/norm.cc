// Normalizations. Batch norm after a convolution is folded into it earlier (passes/
// fold_batchnorm); a standalone one becomes a per-channel MUL + ADD with convert-time constants.
#include <cmath>

#include "lower/const_eval.h"
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
  if (!mean || !var || (w && !wc) || (b && !bc)) return ctx.unsupported("batch norm needs constant statistics and affine parameters");
  const double eps = n.get_float("eps");
  auto m = to_float_vector(*mean), v = to_float_vector(*var);
  const int64_t c = static_cast<int64_t>(m.size());
  std::vector<float> scale(c), shift(c);
  auto wv = wc ? to_float_vector(*wc) : std::vector<float>(c, 1.0f);
  auto bv = bc ? to_float_vector(*bc) : std::vector<float>(c, 0.0f);
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
  ctx.emit("MUL", {in, sc}, {mid})->set("fused_activation", std::string("NONE"));
  Value* out = ctx.make_output(y, layout);
  ctx.emit("ADD", {mid, sh}, {out})->set("fused_activation", std::string("NONE"));
}

}  // namespace

void register_norm_rules(Registry& r) {
  r.add("aten._native_batch_norm_legit_no_training.default", lower_batch_norm, "(folded into conv) / MUL + ADD",
        "eval-mode batch norm; folded into a preceding convolution by the fold_batchnorm pass");
}

}  // namespace pt2tflite::lower
