// ADD / SUB of a constant right after a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED, folded into
// that op's bias: conv(x) + c == conv with bias + c when c is one value per output channel (or a
// scalar). hardsigmoid's relu6(x + 3) after a conv becomes the conv with a fused RELU6.
#include <algorithm>

#include "lower/const_eval.h"
#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

using ir::Value;

// The per-output-channel values of `c` for an op with `cout` channels on the last axis, or
// empty when `c` varies along another axis or would broadcast the output to a larger rank.
std::vector<float> per_channel(const Value* c, int out_rank, int64_t cout) {
  if (!c->is_const() || c->quant || c->dtype != ir::DType::kFloat32 || c->rank() > out_rank) return {};
  for (int d = 0; d + 1 < c->rank(); ++d)
    if (c->shape[d].size != 1) return {};
  std::vector<float> v = lower::to_float_vector(*c);
  if (v.size() == 1) return std::vector<float>(cout, v[0]);
  if (static_cast<int64_t>(v.size()) != cout) return {};
  return v;
}

}  // namespace

void fold_bias_add(ir::Graph& g) {
  for (const auto& add : g.nodes()) {
    if (add->op != "tfl.ADD" && add->op != "tfl.SUB") continue;
    for (int side = 0; side < (add->op == "tfl.ADD" ? 2 : 1); ++side) {
      Value* x = add->inputs[side];
      Value* c = add->inputs[1 - side];
      ir::Node* p = x->producer;
      if (!p || (p->op != "tfl.CONV_2D" && p->op != "tfl.DEPTHWISE_CONV_2D" && p->op != "tfl.FULLY_CONNECTED")) continue;
      if (p->get_string("fused_activation") != "NONE" || g.use_count(x) != 1 || x->quant) continue;
      if (x->shape != add->outputs[0]->shape || p->inputs.at(1)->quant) continue;
      const int64_t cout = p->inputs[1]->shape[p->op == "tfl.DEPTHWISE_CONV_2D" ? 3 : 0].size;
      std::vector<float> shift = per_channel(c, x->rank(), cout);
      if (shift.empty()) continue;
      Value* bias = p->inputs.size() > 2 ? p->inputs[2] : nullptr;
      if (bias && (!bias->is_const() || bias->dtype != ir::DType::kFloat32 || bias->quant)) continue;
      std::vector<float> b = bias ? lower::to_float_vector(*bias) : std::vector<float>(cout, 0.0f);
      for (int64_t o = 0; o < cout; ++o) b[o] = add->op == "tfl.ADD" ? b[o] + shift[o] : b[o] - shift[o];
      Value* nb = g.add_const(g.unique_name(p->name + "_bias"), ir::DType::kFloat32,
                              ir::static_shape(std::vector<int64_t>{cout}),
                              ir::ConstData::own(lower::to_bytes(std::span<const float>(b))));
      p->inputs.resize(3);
      p->inputs[2] = nb;
      p->set("fused_activation", add->get_string("fused_activation"));
      Value* y = add->outputs[0];
      p->outputs[0] = y;
      y->producer = p;
      add->outputs[0] = nullptr;  // the ADD computes nothing now; remove_dead drops it
      break;
    }
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
