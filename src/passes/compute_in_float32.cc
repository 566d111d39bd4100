// A float16, bfloat16 or float64 model computes in float32: LiteRT's builtin kernels have float32
// arithmetic only (ADD, MUL, RELU, PAD, CONCATENATION, EXP ... refuse float16 and float64 at load,
// and XNNPACK takes some float16 ops but not all). Inputs and outputs keep their dtypes through a
// CAST at each end, so the model's signature is the one PyTorch exported.
#include <algorithm>

#include "ir/constants.h"
#include "passes/passes.h"

namespace pt2tflite::passes {

namespace {

bool other_float(ir::DType t) {
  return t == ir::DType::kFloat16 || t == ir::DType::kBFloat16 || t == ir::DType::kFloat64;
}

constexpr int64_t kTorchFloat32 = 7;  // torch/_export/serde/schema.py ScalarType.FLOAT

std::unique_ptr<ir::Node> to_copy(ir::Graph& g, ir::Value* in, ir::Value* out, ir::DType dtype) {
  auto n = std::make_unique<ir::Node>();
  n->op = "aten._to_copy.default";
  n->name = g.unique_name(in->name + "_to_" + std::string(ir::dtype_name(dtype)));
  n->args = {{"self", in}};
  n->outputs = {out};
  out->producer = n.get();
  return n;
}

}  // namespace

void compute_in_float32(ir::Graph& g) {
  // A model-state buffer (a KV cache) is bound to its updated output by the runtime; casting it
  // would break that pairing, so such a model keeps its dtypes (and its ops' limits).
  for (const auto& v : g.values())
    if (v->is_state && other_float(v->dtype)) return;
  bool any = false;
  for (const auto& v : g.values()) any = any || (other_float(v->dtype) && !v->quant);
  if (!any) return;

  // Ops that build a tensor of a requested dtype (full, arange, _to_copy, ...) now request float32.
  for (const auto& n : g.nodes())
    for (auto& [name, attr] : n->args)
      if (const auto* code = std::get_if<int64_t>(&attr); name == "dtype" && code)
        if (const auto t = ir::dtype_from_torch_scalar_type(*code); t && other_float(*t)) attr = kTorchFloat32;

  std::vector<ir::Value*> inputs, outputs;
  for (const auto& v : g.values()) {
    if (!other_float(v->dtype) || v->quant) continue;
    const bool is_input = std::count(g.inputs.begin(), g.inputs.end(), v.get()) > 0;
    const bool is_output = std::count(g.outputs.begin(), g.outputs.end(), v.get()) > 0;
    if (is_input) {
      inputs.push_back(v.get());
    } else if (v->is_const()) {
      if (is_output) continue;  // returned as it is
      v->data = ir::ConstData::own(ir::from_float_vector(ir::to_float_vector(*v), ir::DType::kFloat32));
      v->dtype = ir::DType::kFloat32;
    } else if (is_output) {
      outputs.push_back(v.get());
    } else {
      v->dtype = ir::DType::kFloat32;
    }
  }
  for (ir::Value* in : inputs) {
    ir::Value* wide = g.add_value(g.unique_name(in->name), ir::DType::kFloat32, in->shape);
    g.replace_uses(in, wide);
    std::replace(g.outputs.begin(), g.outputs.end(), wide, in);  // an input returned as it is
    const ir::Node* first = g.nodes().empty() ? nullptr : g.nodes().front().get();
    g.insert_node(first, to_copy(g, in, wide, ir::DType::kFloat32));
  }
  for (ir::Value* out : outputs) {
    // The output keeps its name and dtype; the value computed in float32 becomes a new one.
    ir::Value* wide = g.add_value(g.unique_name(out->name), ir::DType::kFloat32, out->shape);
    ir::Node* producer = out->producer;
    g.replace_uses(out, wide);
    std::replace(g.outputs.begin(), g.outputs.end(), wide, out);
    if (producer) {
      std::replace(producer->outputs.begin(), producer->outputs.end(), out, wide);
      wide->producer = producer;
    }
    g.insert_node(nullptr, to_copy(g, wide, out, out->dtype));
  }
}

}  // namespace pt2tflite::passes
