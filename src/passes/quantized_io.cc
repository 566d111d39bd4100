// TFLite level: int8 model inputs and outputs (ConvertOptions::quantized_io). A float input read
// only by QUANTIZEs becomes the int8 tensor they produce, and a float output made by a DEQUANTIZE
// becomes the int8 tensor it reads, so callers feed and receive the quantized values directly.
#include <algorithm>

#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

bool is_int8_per_tensor(const ir::Value* v) {
  return v && v->dtype == ir::DType::kInt8 && v->quant && v->quant->scale.size() == 1;
}

}  // namespace

void quantized_io(ir::Graph& g) {
  for (ir::Value*& in : g.inputs) {
    std::vector<ir::Node*> users = g.users(in);
    if (users.empty() || std::count(g.outputs.begin(), g.outputs.end(), in)) continue;
    const bool all_quantize = std::all_of(users.begin(), users.end(), [&](const ir::Node* u) {
      return u->is(ir::TflOp::QUANTIZE) && is_int8_per_tensor(u->outputs[0]) &&
             *u->outputs[0]->quant == *users[0]->outputs[0]->quant;
    });
    if (!all_quantize) continue;
    ir::Value* q = users[0]->outputs[0];
    for (size_t j = 1; j < users.size(); ++j) {
      g.replace_uses(users[j]->outputs[0], q);
      users[j]->outputs[0] = nullptr;
    }
    users[0]->outputs[0] = nullptr;  // the QUANTIZE is dead now; remove_dead drops it
    q->producer = nullptr;
    q->name = in->name;  // the interpreter reports inputs by tensor name
    in = q;
  }
  for (ir::Value*& out : g.outputs) {
    const ir::Node* p = out->producer;
    if (!p || !p->is(ir::TflOp::DEQUANTIZE) || !is_int8_per_tensor(p->inputs[0])) continue;
    p->inputs[0]->name = out->name;
    out = p->inputs[0];
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
