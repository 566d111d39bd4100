// LiteRT's arena planner lets some builtin kernels write their output over an input's buffer
// (ADD, SUB, MUL, DIV, SOFTMAX, DYNAMIC_UPDATE_SLICE: "in place"), and lets RESHAPE, SQUEEZE,
// EXPAND_DIMS and BITCAST return their input's buffer ("aliases"). Before an in-place write it
// checks that nobody else reads the buffer, but only by counting the readers of the op's direct
// input and of the buffer's first owner, not of the aliases in between. So when a tensor with
// several readers is reshaped and the reshape feeds an in-place op, that op overwrites the tensor
// while its other readers still need it (tflite/arena_planner.cc IdentifyInPlaceTensors; LiteRT
// issue 8889). timm's GCViT lost 1.3e-2 this way: its q = x.view(...) * scale, three times from
// one x, on the builtin kernels only (XNNPACK plans its own memory).
//
// The guard: where an alias op reads a tensor that has other readers (or is a graph input or
// output) and an in-place op is reachable from it through aliases only, the alias's result is
// copied once (an identity TRANSPOSE, which no planner shares; see copy_nodes for 0-d tensors), so
// the in-place op writes into a buffer of its own. Graphs without that pattern are unchanged.
#include <span>

#include "ir/tfl_op.h"
#include "passes/passes.h"
#include "passes/transpose/transpose_paths.h"

namespace pt2tflite::passes {
namespace {

bool is_alias_op(const ir::Node& n) {
  auto op = ir::tfl_op(n);
  return op && ir::arena(*op) == ir::Arena::ALIAS;
}

// The inputs an in-place kernel may write its output over (kTfLiteInplaceOpInputNShared): 0 and
// 1 of a binary op, else 0 (tfl_ops.inc's ARENA column).
bool may_write_over(const ir::Node& n, size_t input) {
  auto op = ir::tfl_op(n);
  if (!op || ir::arena(*op) != ir::Arena::INPLACE) return false;
  return input == 0 || (input == 1 && ir::is_elementwise_binary(*op));
}

// Readers as the planner counts them: node inputs, plus one for a graph input or output.
int readers(const ir::Graph& g, const ir::Value* v) {
  int n = g.use_count(v);
  for (const ir::Value* x : g.inputs) n += x == v;
  return n;
}

// True when an in-place op reads `v`, directly or through further aliases.
bool feeds_in_place_op(const ir::Graph& g, const ir::Value* v, int depth = 0) {
  if (depth > 16) return true;  // a long alias chain: guard rather than search
  for (const ir::Node* u : g.users(v)) {
    for (size_t i = 0; i < u->inputs.size(); ++i)
      if (u->inputs[i] == v && may_write_over(*u, i)) return true;
    if (is_alias_op(*u) && !u->outputs.empty() && u->outputs[0] && feeds_in_place_op(g, u->outputs[0], depth + 1))
      return true;
  }
  return false;
}

// The nodes that copy `from` into `to`: an identity TRANSPOSE. A 0-d tensor goes through [1]
// (RESHAPE, TRANSPOSE, RESHAPE): LiteRT's TRANSPOSE of a 0-d tensor writes garbage (inf with
// XNNPACK, 3.4e38 on the builtin kernels), and the RESHAPE back aliases the copy, which has no
// other reader.
std::vector<std::unique_ptr<ir::Node>> copy_nodes(ir::Graph& g, const ir::Node& alias, ir::Value* from, ir::Value* to) {
  std::vector<std::unique_ptr<ir::Node>> nodes;
  auto add = [&](ir::TflOp op, ir::Value* in, ir::Value* shape_or_perm, ir::Value* out) {
    auto n = std::make_unique<ir::Node>();
    n->set_op(op);
    n->name = g.unique_name(alias.name);
    n->source = alias.source;
    n->inputs = {in, shape_or_perm};
    n->outputs = {out};
    nodes.push_back(std::move(n));
  };
  if (from->rank() > 0) {
    std::vector<int32_t> identity(from->rank());
    for (int i = 0; i < from->rank(); ++i) identity[i] = i;
    add(ir::TflOp::TRANSPOSE, from, paths::const_i32(g, alias.name + "_perm", identity), to);
    return nodes;
  }
  const int64_t one = 1;
  auto vector_of_one = [&](const std::string& name) {
    ir::Value* v = g.add_value(g.unique_name(name), from->dtype, ir::static_shape(std::span(&one, 1)));
    v->quant = from->quant;
    return v;
  };
  ir::Value* as_1d = vector_of_one(from->name + "_as_1d");
  ir::Value* copied = vector_of_one(from->name + "_copy");
  add(ir::TflOp::RESHAPE, from, paths::const_i32(g, alias.name + "_shape", {1}), as_1d);
  add(ir::TflOp::TRANSPOSE, as_1d, paths::const_i32(g, alias.name + "_perm", {0}), copied);
  add(ir::TflOp::RESHAPE, copied, paths::const_i32(g, alias.name + "_shape", {}), to);
  return nodes;
}

}  // namespace

void guard_inplace_aliases(ir::Graph& g) {
  std::vector<ir::Node*> hazards;
  for (const auto& n : g.nodes()) {
    if (!is_alias_op(*n) || n->inputs.empty() || !n->inputs[0] || n->inputs[0]->is_const()) continue;
    ir::Value* out = n->outputs.empty() ? nullptr : n->outputs[0];
    if (!out || readers(g, n->inputs[0]) < 2) continue;
    if (feeds_in_place_op(g, out)) hazards.push_back(n.get());
  }
  for (ir::Node* alias : hazards) {
    ir::Value* shared = alias->outputs[0];
    ir::Value* own = g.add_value(g.unique_name(shared->name), shared->dtype, shared->shape);
    own->quant = shared->quant;
    g.replace_uses(shared, own);  // readers and a graph output alike now see the copy
    const auto& nodes = g.nodes();
    const ir::Node* next = nullptr;  // insert right after the alias
    for (size_t i = 0; i + 1 < nodes.size(); ++i)
      if (nodes[i].get() == alias) next = nodes[i + 1].get();
    for (auto& copy : copy_nodes(g, *alias, shared, own)) g.insert_node(next, std::move(copy));
  }
}

}  // namespace pt2tflite::passes
