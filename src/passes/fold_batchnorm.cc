#include <cmath>

#include "ir/constants.h"
#include "passes/passes.h"

namespace pt2tflite::passes {

namespace {

bool is_float32_const(const ir::Value* v) { return v && v->is_const() && v->dtype == ir::DType::kFloat32; }

}  // namespace

void fold_batchnorm(ir::Graph& g) {
  for (const auto& bn : g.nodes()) {
    if (bn->op != "aten._native_batch_norm_legit_no_training.default") continue;
    ir::Value* x = bn->get_tensor("input");
    ir::Node* conv = x->producer;
    if (!conv || conv->op != "aten.convolution.default" || conv->get_bool("transposed")) continue;
    if (g.use_count(x) != 1) continue;
    bool stats_used = false;
    for (size_t i = 1; i < bn->outputs.size(); ++i) stats_used |= bn->outputs[i] && g.use_count(bn->outputs[i]) > 0;
    if (stats_used) continue;
    ir::Value* w = conv->get_tensor("weight");
    ir::Value* b = conv->get_tensor("bias");
    ir::Value* gamma = bn->get_tensor("weight");
    ir::Value* beta = bn->get_tensor("bias");
    ir::Value* mean = bn->get_tensor("running_mean");
    ir::Value* var = bn->get_tensor("running_var");
    if (!is_float32_const(w) || (b && !is_float32_const(b)) || !is_float32_const(mean) || !is_float32_const(var) ||
        (gamma && !is_float32_const(gamma)) || (beta && !is_float32_const(beta)))
      continue;
    const auto m = ir::to_float_vector(*mean), v = ir::to_float_vector(*var);
    const size_t cout = m.size();
    const auto gv = gamma ? ir::to_float_vector(*gamma) : std::vector<float>(cout, 1.0f);
    const auto bv = beta ? ir::to_float_vector(*beta) : std::vector<float>(cout, 0.0f);
    const auto b0 = b ? ir::to_float_vector(*b) : std::vector<float>(cout, 0.0f);
    auto wv = ir::to_float_vector(*w);
    w->data->drop_pages();  // the folded copy replaces it: its mapped pages need not stay resident
    const double eps = bn->get_float("eps");
    const size_t per_out = wv.size() / cout;
    std::vector<float> bias(cout);
    for (size_t o = 0; o < cout; ++o) {
      // Computed in double: y = (conv(x) + b - mean) * gamma / sqrt(var + eps) + beta.
      const double scale = gv[o] / std::sqrt(static_cast<double>(v[o]) + eps);
      for (size_t i = 0; i < per_out; ++i) wv[o * per_out + i] = static_cast<float>(wv[o * per_out + i] * scale);
      bias[o] = static_cast<float>((b0[o] - m[o]) * scale + bv[o]);
    }
    ir::Value* nw = g.add_const(w->name + "_bn", ir::DType::kFloat32, w->shape,
                                ir::ConstData::own(ir::to_bytes(std::span<const float>(wv))));
    ir::Value* nb = g.add_const(bn->name + "_bias", ir::DType::kFloat32,
                                ir::static_shape(std::vector<int64_t>{static_cast<int64_t>(cout)}),
                                ir::ConstData::own(ir::to_bytes(std::span<const float>(bias))));
    conv->set("weight", nw);
    conv->set("bias", nb);
    g.replace_uses(bn->outputs[0], x);
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
