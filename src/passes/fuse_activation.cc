#include <set>
#include <string>

#include "passes/passes.h"

namespace pt2tflite::passes {

void fuse_activation(ir::Graph& g) {
  // XNNPACK takes these fused activations; TANH / SIGN_BIT are left as separate ops.
  static const std::set<std::string> kActivations = {"tfl.RELU", "tfl.RELU6", "tfl.RELU_N1_TO_1"};
  static const std::set<std::string> kFusable = {
      "tfl.CONV_2D", "tfl.DEPTHWISE_CONV_2D", "tfl.FULLY_CONNECTED", "tfl.ADD",         "tfl.SUB",
      "tfl.MUL",     "tfl.DIV",               "tfl.MAX_POOL_2D",     "tfl.AVERAGE_POOL_2D", "tfl.CONCATENATION"};
  for (const auto& act : g.nodes()) {
    if (!kActivations.count(act->op)) continue;
    ir::Value* x = act->inputs.at(0);
    ir::Node* p = x->producer;
    if (!p || !kFusable.count(p->op) || p->get_string("fused_activation") != "NONE") continue;
    if (g.use_count(x) != 1 || x->quant != act->outputs[0]->quant) continue;
    p->set("fused_activation", act->op.substr(4));
    ir::Value* y = act->outputs[0];
    p->outputs[0] = y;
    y->producer = p;
    act->outputs[0] = nullptr;  // the activation no longer computes anything; remove_dead drops it
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
