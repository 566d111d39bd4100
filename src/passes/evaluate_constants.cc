// Convert-time evaluation of the ATen graph: every node whose operands are all constants (or
// results of such nodes) and whose shapes are static is computed by the interpreter in
// passes/aten_eval.cc, and the values that run-time nodes read become constants. Rotary sin/cos
// tables, relative-position buckets, causal masks built from aranges, biases concatenated from
// parameters all become plain constants, whatever ops they were written with.
//
// What is written is capped so that folding never inflates the file: a result is stored only if
// it is no bigger than 1 MiB or than the operands it replaces (passes/fold_limits.h); otherwise its node stays in
// the graph (and its operands are stored instead). Ops that only move or broadcast elements
// (view, permute, expand, ...) at the edge of a constant subgraph stay too: the lowering folds
// them into the layout its reader wants, and a broadcast stays a run-time broadcast.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "passes/aten_eval.h"
#include "passes/fold_limits.h"
#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

using ir::Node;
using ir::Value;

// Results above this many elements are not computed at all (bounded convert-time memory).
constexpr int64_t kMaxEvalElements = int64_t{1} << 23;

int64_t bytes_of(const Value* v) { return ir::num_elements(v->shape) * static_cast<int64_t>(ir::dtype_size(v->dtype)); }

bool readable_constant(const Value* v) {
  return v->is_const() && !v->quant && ir::is_fully_static(v->shape) && v->dtype != ir::DType::kFloat16 &&
         v->dtype != ir::DType::kBFloat16;
}

class Evaluator {
 public:
  explicit Evaluator(ir::Graph& g) : g_(g) {}

  void run() {
    for (const auto& n : g_.nodes()) consider(n.get());
    // Also when nothing folds: the empty tensors a cat skips may come from run-time values, and
    // what computed them must not reach the lowering (it divides by dims).
    drop_empty_cat_operands();
    if (!folded_.empty()) {
      decide_what_to_store();
      std::vector<std::unique_ptr<Node>>& nodes = g_.mutable_nodes();
      std::erase_if(nodes, [&](const std::unique_ptr<Node>& n) { return folded_.count(n.get()) > 0; });
    }
    g_.remove_dead();
  }

 private:
  // Phase 1: marks the nodes computable at convert time, and computes those that do arithmetic.
  // Layout ops on archive constants are only marked: most stay in the graph (phase 2), so their
  // values are computed only if a folded node reads them.
  void consider(Node* n) {
    if (n->outputs.size() != 1 || !n->outputs[0]) return;
    const Value* out = n->outputs[0];
    // A result with no elements is known whatever its operands (Phi-3's q[..., rotary_dim:] when
    // the rotary part is the whole head); the cat it feeds drops it (drop_empty_cat_operands).
    if (ir::is_fully_static(out->shape) && ir::num_elements(out->shape) == 0 && out->dtype != ir::DType::kFloat16 &&
        out->dtype != ir::DType::kBFloat16) {
      known_[out] = std::make_shared<EvalTensor>(EvalTensor{out->dtype, ir::sizes_of(out->shape), {}});
      folded_.insert(n);
      return;
    }
    if (!can_evaluate(n->op)) return;
    if (!ir::is_fully_static(out->shape) || ir::num_elements(out->shape) > kMaxEvalElements) return;
    bool all_sources = true;
    for (const Value* v : n->operands()) {
      if (known_.count(v) || deferred_.count(v))
        all_sources = false;
      else if (!readable_constant(v))
        return;
    }
    if (is_layout_op(n->op) && all_sources) {
      deferred_[out] = n;
      folded_.insert(n);
      return;
    }
    auto r = evaluate(*n, [this](const Value* v) { return lookup(v); });
    if (!r) return;
    known_[out] = std::make_shared<EvalTensor>(std::move(*r));
    folded_.insert(n);
  }

  // torch.cat skips operands with no elements; so does the graph, so the lowering never meets them.
  void drop_empty_cat_operands() {
    for (const auto& n : g_.nodes()) {
      if (n->op != "aten.cat.default" || folded_.count(n.get())) continue;
      ir::Attr* a = nullptr;
      for (auto& [name, attr] : n->args)
        if (name == "tensors") a = &attr;
      auto* list = a ? std::get_if<std::vector<Value*>>(a) : nullptr;
      if (!list) continue;
      std::vector<Value*> kept;
      for (Value* v : *list)
        if (!v || !ir::is_fully_static(v->shape) || ir::num_elements(v->shape) != 0) kept.push_back(v);
      if (kept.empty() || kept.size() == list->size()) continue;
      Value* out = n->outputs.empty() ? nullptr : n->outputs[0];
      const bool is_output = std::find(g_.outputs.begin(), g_.outputs.end(), out) != g_.outputs.end();
      if (kept.size() == 1 && out && !is_output && kept[0]->dtype == out->dtype && kept[0]->shape == out->shape) {
        g_.replace_uses(out, kept[0]);  // a cat of one tensor is that tensor
        continue;
      }
      *list = std::move(kept);
    }
  }

  EvalTensorPtr lookup(const Value* v) {
    if (auto it = known_.find(v); it != known_.end()) return it->second;
    if (auto it = deferred_.find(v); it != deferred_.end()) {
      auto r = evaluate(*it->second, [this](const Value* u) { return lookup(u); });
      if (!r) return nullptr;
      return known_[v] = std::make_shared<EvalTensor>(std::move(*r));
    }
    return readable_constant(v) ? read_constant(*v) : nullptr;
  }

  // Phase 2, from the outputs back: a folded value read at run time is stored as a constant when
  // that is cheap, otherwise its node is kept and its operands are needed at run time instead.
  void decide_what_to_store() {
    std::unordered_set<const Value*> needed(g_.outputs.begin(), g_.outputs.end());
    for (const auto& n : g_.nodes())
      if (!folded_.count(n.get()))
        for (const Value* v : n->operands()) needed.insert(v);
    const auto& nodes = g_.nodes();
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
      Node* n = it->get();
      if (!folded_.count(n)) continue;
      Value* out = n->outputs[0];
      if (!needed.count(out)) continue;
      // TFLite outputs are not constants: a node producing a graph output stays.
      const bool is_output = std::find(g_.outputs.begin(), g_.outputs.end(), out) != g_.outputs.end();
      if (!is_output && !keep_at_edge(*n)) {
        store(out);
        continue;
      }
      folded_.erase(n);
      for (const Value* v : n->operands()) needed.insert(v);
    }
  }

  bool keep_at_edge(const Node& n) {
    int64_t operand_bytes = 0;
    for (const Value* v : n.operands()) operand_bytes += bytes_of(v);
    const int64_t out_bytes = bytes_of(n.outputs[0]);
    // An expand or repeat that adds no element (DETR's query embeddings repeated once) is a copy:
    // stored, so the lowering needs no op for it. One that grows the tensor stays a broadcast.
    const bool copy = (n.op == "aten.expand.default" || n.op == "aten.repeat.default") && out_bytes == operand_bytes;
    if (is_layout_op(n.op) && !copy) return true;
    if (!lookup(n.outputs[0]) || has_poison(*known_.at(n.outputs[0]))) return true;
    return !worth_storing(out_bytes, operand_bytes);
  }

  void store(Value* out) {
    const EvalTensor& t = *known_.at(out);
    Value* c = g_.add_const(g_.unique_name(out->name + "_folded"), out->dtype, out->shape,
                            ir::ConstData::own(to_const_bytes(t)));
    g_.replace_uses(out, c);
  }

  ir::Graph& g_;
  std::unordered_map<const Value*, EvalTensorPtr> known_;
  std::unordered_map<const Value*, Node*> deferred_;
  std::unordered_set<const Node*> folded_;
};

}  // namespace

void evaluate_constants(ir::Graph& aten) { Evaluator(aten).run(); }

}  // namespace pt2tflite::passes
