// A RESHAPE to [M, K] that only feeds a FULLY_CONNECTED with K inputs and keep_num_dims = false
// is dropped: the FC flattens its input to [numel / K, K] in row-major order itself, which is the
// same reshape (the flatten before a classifier head).
#include "passes/passes.h"

namespace pt2tflite::passes {

void drop_fc_flatten(ir::Graph& g) {
  for (const auto& fc : g.nodes()) {
    if (!fc->is(ir::TflOp::FULLY_CONNECTED) || fc->get_bool("keep_num_dims")) continue;
    ir::Node* r = fc->inputs[0]->producer;
    if (!r || !r->is(ir::TflOp::RESHAPE)) continue;
    const ir::Value* flat = fc->inputs[0];
    ir::Value* x = r->inputs[0];
    if (flat->rank() != 2 || !ir::is_fully_static(x->shape) || x->rank() < 2 || x->quant != flat->quant) continue;
    if (flat->shape[1].size != fc->inputs[1]->shape.at(1).size) continue;
    fc->inputs[0] = x;
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
