// TRANSPOSE and RESHAPE chains left where lowering met one op at a time: a TRANSPOSE of a
// TRANSPOSE is one TRANSPOSE (or nothing when the two cancel), a TRANSPOSE that moves only size-1
// dims reorders no bytes and is a RESHAPE, a RESHAPE of a RESHAPE is one RESHAPE, and a RESHAPE
// to the shape it already has is nothing. Each rewrite keeps the same elements in the same order.
#include <algorithm>

#include "lower/const_eval.h"
#include "lower/layout.h"
#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

using ir::Value;

std::vector<int> perm_of(const ir::Node& t) {
  const auto p = lower::to_int_vector(*t.inputs.at(1));
  return {p.begin(), p.end()};
}

bool is_graph_output(const ir::Graph& g, const Value* v) {
  return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

Value* const_i32(ir::Graph& g, const std::string& stem, const std::vector<int32_t>& v) {
  return g.add_const(g.unique_name(stem), ir::DType::kInt32,
                     ir::static_shape(std::vector<int64_t>{static_cast<int64_t>(v.size())}),
                     ir::ConstData::own(lower::to_bytes(std::span<const int32_t>(v))));
}

void turn_into_reshape(ir::Graph& g, ir::Node& n) {
  const Value* y = n.outputs[0];
  std::vector<int32_t> shape;
  for (const ir::Dim& d : y->shape) shape.push_back(d.is_static() ? static_cast<int32_t>(d.size) : -1);
  n.op = "tfl.RESHAPE";
  n.inputs = {n.inputs[0], const_i32(g, n.name + "_shape", shape)};
}

}  // namespace

void simplify_transposes(ir::Graph& g) {
  for (const auto& n : g.nodes()) {
    if (n->op == "tfl.TRANSPOSE" && n->inputs[1]->is_const()) {
      ir::Node* inner = n->inputs[0]->producer;
      std::vector<int> perm = perm_of(*n);
      if (inner && inner->op == "tfl.TRANSPOSE" && inner->inputs[1]->is_const()) {
        // out[i] = mid[perm[i]] = in[inner_perm[perm[i]]]
        const std::vector<int> first = perm_of(*inner);
        for (int& d : perm) d = first[d];
        n->inputs = {inner->inputs[0], const_i32(g, n->name + "_perm", {perm.begin(), perm.end()})};
      }
      Value* x = n->inputs[0];
      if (lower::is_identity(perm) && x->quant == n->outputs[0]->quant && !is_graph_output(g, n->outputs[0])) {
        g.replace_uses(n->outputs[0], x);
        continue;
      }
      // A permutation that keeps the dims of size > 1 in order moves no bytes.
      if (ir::is_fully_static(x->shape) && lower::same_memory_order(x->shape, perm)) turn_into_reshape(g, *n);
    }
    if (n->op == "tfl.RESHAPE") {
      ir::Node* inner = n->inputs[0]->producer;
      if (inner && inner->op == "tfl.RESHAPE") n->inputs[0] = inner->inputs[0];
      Value* x = n->inputs[0];
      Value* y = n->outputs[0];
      if (ir::is_fully_static(y->shape) && x->shape == y->shape && x->quant == y->quant && !is_graph_output(g, y))
        g.replace_uses(y, x);
    }
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
