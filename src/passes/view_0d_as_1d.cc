// PyTorch lets an op that takes a dim (softmax, cumsum, flip, sort, a reduction) run on a 0-d
// tensor, reading dim 0 or -1 as the one element. TFLite has no such rule: its kernels index the
// axis of a rank-0 tensor out of bounds, or give a reduction the shape [1]. So such an op runs on
// its input viewed as [1], with keepdim for a reduction, and each result is viewed back as 0-d:
// the same numbers (NaN and infinity included), and the shapes PyTorch returns.
#include <span>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "passes/passes.h"

namespace pt2tflite::passes {

namespace {

// The ops that take a dim, each with whether it is a reduction (which then keeps the reduced dim,
// so its results have the input's rank). The others' results have their input's shape
// (index_select's and gather's: their index's; a 0-d index gives a 0-d result).
const std::unordered_map<std::string_view, bool>& dim_ops() {
  static const std::unordered_map<std::string_view, bool> ops = {
      {"aten._softmax.default", false},
      {"aten._log_softmax.default", false},
      {"aten._safe_softmax.default", false},
      {"aten.cumsum.default", false},
      {"aten.cumprod.default", false},
      {"aten.logcumsumexp.default", false},
      {"aten.cummax.default", false},
      {"aten.cummin.default", false},
      {"aten.flip.default", false},
      {"aten.sort.default", false},
      {"aten.sort.stable", false},
      {"aten.topk.default", false},
      {"aten.index_select.default", false},
      {"aten.gather.default", false},
      {"aten.sum.dim_IntList", true},
      {"aten.mean.dim", true},
      {"aten.amax.default", true},
      {"aten.amin.default", true},
      {"aten.argmax.default", true},
      {"aten.argmin.default", true},
      {"aten.max.dim", true},
      {"aten.min.dim", true},
      {"aten.var.correction", true},
      {"aten.std.correction", true},
      {"aten.var_mean.correction", true},
      {"aten.logsumexp.default", true},
      {"aten.linalg_vector_norm.default", true},
      {"aten.prod.dim_int", true},
      {"aten.any.dim", true},
      {"aten.any.dims", true},
      {"aten.all.dim", true},
      {"aten.all.dims", true},
  };
  return ops;
}

std::unique_ptr<ir::Node> view_node(ir::Graph& g, std::string op, ir::Value* in, ir::Value* out, ir::Attr dim,
                                    const ir::SourceInfo& source) {
  auto n = std::make_unique<ir::Node>();
  n->op = std::move(op);
  n->name = g.unique_name(out->name);
  n->args = {{"self", in}, {"dim", std::move(dim)}};
  n->outputs = {out};
  n->source = source;
  out->producer = n.get();
  return n;
}

// The tensor argument `name` of `n`, or null. Not Node::get_tensor, which checks the kind: the
// boundary checks argument kinds only for ops it has a schema for, and these ops may have none.
ir::Value* tensor_arg(const ir::Node& n, std::string_view name) {
  const ir::Attr* a = n.find(name);
  ir::Value* const* v = a ? std::get_if<ir::Value*>(a) : nullptr;
  return v ? *v : nullptr;
}

}  // namespace

void view_0d_as_1d(ir::Graph& g) {
  std::vector<ir::Node*> targets;
  for (const auto& n : g.nodes()) {
    if (!dim_ops().count(n->op)) continue;
    const ir::Value* self = tensor_arg(*n, "self");
    if (self && self->rank() == 0) targets.push_back(n.get());
  }
  const int64_t one = 1;
  const ir::Shape shape_1 = ir::static_shape(std::span(&one, 1));
  for (ir::Node* n : targets) {
    ir::Value* self = tensor_arg(*n, "self");
    ir::Value* vec = g.add_value(g.unique_name(self->name + "_as_1d"), self->dtype, shape_1);
    g.insert_node(n, view_node(g, "aten.unsqueeze.default", self, vec, int64_t{0}, n->source));
    n->set("self", vec);
    // gather's index has the rank of its input.
    if (ir::Value* index = n->op == "aten.gather.default" ? tensor_arg(*n, "index") : nullptr;
        index && index->rank() == 0) {
      ir::Value* index_1d = g.add_value(g.unique_name(index->name + "_as_1d"), index->dtype, shape_1);
      g.insert_node(n, view_node(g, "aten.unsqueeze.default", index, index_1d, int64_t{0}, n->source));
      n->set("index", index_1d);
    }
    if (dim_ops().at(n->op)) n->set("keepdim", true);
    // Each 0-d result is now computed as [1] into a new value, then viewed back into the original.
    const ir::Node* next = nullptr;
    for (size_t i = 0; i < g.nodes().size(); ++i)
      if (g.nodes()[i].get() == n) next = i + 1 < g.nodes().size() ? g.nodes()[i + 1].get() : nullptr;
    for (ir::Value*& out : n->outputs) {
      if (!out || out->rank() != 0) continue;
      ir::Value* wide = g.add_value(g.unique_name(out->name + "_1d"), out->dtype, shape_1);
      wide->producer = n;
      ir::Value* scalar = out;
      out = wide;
      g.insert_node(next, view_node(g, "aten.squeeze.dims", wide, scalar, std::vector<int64_t>{0}, n->source));
    }
  }
}

}  // namespace pt2tflite::passes
