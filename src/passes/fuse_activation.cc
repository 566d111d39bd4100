#include "passes/passes.h"

namespace pt2tflite::passes {

void fuse_activation(ir::Graph& g) {
  for (const auto& act : g.nodes()) {
    const std::optional<ir::Activation> fused = ir::as_fused_activation(*act);
    if (!fused) continue;
    ir::Value* x = act->inputs.at(0);
    ir::Node* p = x->producer;
    if (!p || !ir::accepts_fused_activation(*p) || ir::fused_activation(*p) != ir::Activation::NONE) continue;
    if (g.use_count(x) != 1 || x->quant != act->outputs[0]->quant) continue;
    ir::set_fused_activation(*p, *fused);
    ir::Value* y = act->outputs[0];
    p->outputs[0] = y;
    y->producer = p;
    act->outputs[0] = nullptr;  // the activation no longer computes anything; remove_dead drops it
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
