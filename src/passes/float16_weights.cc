// TFLite level: float16 weights (ConvertOptions::float16_weights). The float32 constant weights of
// CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV are stored as FLOAT16 and read
// through a DEQUANTIZE: half the file size; XNNPACK folds a constant FLOAT16 DEQUANTIZE into the
// op at load time (and the builtin kernel caches its output), so it costs nothing per run.
// A weight with an element beyond float16's range (|w| > 65504) stays float32: as float16 it
// would become inf and the output silently wrong.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "ir/constants.h"
#include "passes/passes.h"

namespace pt2tflite::passes {

void float16_weights(ir::Graph& g) {
  std::map<ir::Value*, ir::Value*> converted;  // a weight shared by several ops is converted once
  std::vector<ir::Node*> snapshot;
  for (const auto& n : g.nodes()) snapshot.push_back(n.get());
  for (ir::Node* n : snapshot) {
    if (!ir::is_weighted(*n) || n->inputs.size() < 2) continue;
    ir::Value* w = n->inputs[1];
    if (!w || !w->is_const() || w->dtype != ir::DType::kFloat32 || w->quant) continue;
    auto values = w->data->as<float>();
    if (std::any_of(values.begin(), values.end(), [](float x) { return !(std::fabs(x) <= 65504.0f); })) continue;
    auto [it, inserted] = converted.emplace(w, nullptr);
    if (inserted) {
      ir::Value* half =
          g.add_const(g.unique_name(w->name), ir::DType::kFloat16, w->shape,
                      ir::ConstData::own(ir::from_float_vector(w->data->as<float>(), ir::DType::kFloat16)));
      ir::Value* full = g.add_value(g.unique_name(w->name), ir::DType::kFloat32, w->shape);
      auto dq = std::make_unique<ir::Node>();
      dq->set_op(ir::TflOp::DEQUANTIZE);
      dq->name = g.unique_name(n->name);
      dq->source = n->source;
      dq->inputs = {half};
      dq->outputs = {full};
      g.insert_node(n, std::move(dq));
      it->second = full;
    }
    n->inputs[1] = it->second;
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
