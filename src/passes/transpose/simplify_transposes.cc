// TRANSPOSE and RESHAPE cleanup after lowering, which met one op at a time. The rewrites, run
// until none applies (each only removes TRANSPOSEs):
//
// Neighbours: a TRANSPOSE of a TRANSPOSE is one TRANSPOSE (or nothing when the two cancel), a
// TRANSPOSE that moves only size-1 dims reorders no bytes and is a RESHAPE, a RESHAPE of a RESHAPE
// is one RESHAPE, and a RESHAPE to the shape it already has is nothing.
//
// Paths: a chain of ops, each read only by the next, made of RESHAPEs, TRANSPOSEs and ops that
// commute with data movement (elementwise ops with constants, and FULLY_CONNECTED / SOFTMAX when
// the movement leaves the last dim alone) is rebuilt with all its data movement at one point, as at
// most one TRANSPOSE (views.h, transpose_paths.h). This merges a window partition with the head
// split after the qkv projection, and the head merge with the window reverse around the output
// projection. A path into BATCH_MATMUL's right operand may end swapped, with adj_y toggled, when
// that saves a TRANSPOSE.
//
// Splits (transpose_splits.cc): when every piece of a SPLIT (or of SLICEs along one axis) goes
// through the same movement, possibly with adj_y (attention's q, k and v after the qkv
// projection), the movement happens once, before the split, which then cuts the moved axis.
//
// Junctions (transpose_junctions.cc): the movement after a binary op of two activations (a
// residual ADD) goes to both its inputs when it merges there into fewer TRANSPOSEs.
//
// Layouts (transpose_junctions.cc): a value with several readers is stored with its dims in
// another order when its producer and its readers then need fewer TRANSPOSEs in all; elementwise
// constants follow such whole-dim reorders (a batch norm's per-channel vectors, NCHW → NHWC).
//
// Each rewrite keeps every element and every computed value exactly; only float tensors without
// quantization parameters are touched (PT2E islands keep their QUANTIZE / DEQUANTIZE framing).
#include <algorithm>
#include <set>

#include "ir/layout.h"
#include "passes/passes.h"
#include "passes/transpose/transpose_paths.h"

namespace pt2tflite::passes {
namespace paths {
namespace {

void turn_into_reshape(Graph& g, Node& n) {
  const Value* y = n.outputs[0];
  std::vector<int32_t> shape;
  for (const ir::Dim& d : y->shape) shape.push_back(d.is_static() ? static_cast<int32_t>(d.size) : -1);
  n.set_op(ir::TflOp::RESHAPE);
  n.inputs = {n.inputs[0], const_i32(g, n.name + "_shape", shape)};
}

// TRANSPOSE∘TRANSPOSE, RESHAPE∘RESHAPE, and TRANSPOSEs / RESHAPEs that do nothing. `forks`: also
// a RESHAPE of a RESHAPE that something else reads.
void merge_neighbours(Graph& g, bool forks = false) {
  for (const auto& n : g.nodes()) {
    if (n->is(ir::TflOp::TRANSPOSE) && n->inputs[1]->is_const()) {
      Node* inner = n->inputs[0]->producer;
      std::vector<int> perm = perm_of(*n);
      if (inner && inner->is(ir::TflOp::TRANSPOSE) && inner->inputs[1]->is_const()) {
        // out[i] = mid[perm[i]] = in[inner_perm[perm[i]]]
        const std::vector<int> first = perm_of(*inner);
        for (int& d : perm) d = first[d];
        n->inputs = {inner->inputs[0], const_i32(g, n->name + "_perm", to_i32(perm))};
      }
      Value* x = n->inputs[0];
      if (ir::is_identity(perm) && x->quant == n->outputs[0]->quant && !is_graph_output(g, n->outputs[0])) {
        g.replace_uses(n->outputs[0], x);
        continue;
      }
      // A permutation that keeps the dims of size > 1 in order moves no bytes.
      if (ir::is_fully_static(x->shape) && ir::same_memory_order(x->shape, perm)) turn_into_reshape(g, *n);
    }
    if (n->is(ir::TflOp::RESHAPE)) {
      Node* inner = n->inputs[0]->producer;
      // While the other rewrites run, only when nothing else reads the inner RESHAPE: its input
      // would gain a reader, cutting the chains that merge_paths follows.
      if (inner && inner->is(ir::TflOp::RESHAPE) && (forks || g.use_count(n->inputs[0]) == 1))
        n->inputs[0] = inner->inputs[0];
      Value* x = n->inputs[0];
      Value* y = n->outputs[0];
      if (ir::is_fully_static(y->shape) && x->shape == y->shape && x->quant == y->quant && !is_graph_output(g, y))
        g.replace_uses(y, x);
    }
  }
  g.remove_dead();
}

// Rebuilds the path below `top` with its movement gathered as `plan` says. Returns the path's
// last value when it is gone (its readers now read `top`).
Value* rewrite_path(Graph& g, const Readers& readers, Value* top, const std::vector<Step>& steps, const Plan& plan) {
  Node* last = steps.back().node;
  Value* bottom = last->outputs[0];
  Emitter e(g, last, last);
  const int computes = static_cast<int>(plan.compute_out.size());
  queue_computes(g, e, steps, plan.compute_out, plan.compute_perm, 0, plan.split);
  e.view(plan.w);
  queue_computes(g, e, steps, plan.compute_out, plan.compute_perm, plan.split, computes);
  if (plan.flip) {
    Node* mm = matmul_reading_rhs(readers, bottom);
    Value* swapped = e.emit(top, nullptr);
    mm->inputs[1] = swapped;
    mm->set("adj_y", !mm->get_bool("adj_y"));
    return nullptr;
  }
  if (e.empty()) {
    if (!is_graph_output(g, bottom)) {
      g.replace_uses(bottom, top);
      return bottom;
    }
    // A graph output keeps an op of its own.
    e.op(ir::TflOp::RESHAPE, {nullptr, const_i32(g, last->name + "_shape", to_i32(sizes(bottom)))}, sizes(bottom));
  }
  detach(g, bottom);
  e.emit(top, bottom);
  return nullptr;
}

}  // namespace

// Paths with more TRANSPOSEs than their plan needs. Returns whether any was rebuilt.
bool merge_paths(Graph& g) {
  const Readers readers(g);
  std::vector<std::pair<Value*, std::vector<Step>>> paths;
  for (const auto& n : g.nodes()) {
    std::optional<Step> s = as_step(n.get());
    if (!s) continue;
    Value* x = data_in(*s);
    // Not a start when the op above x is a step that x continues.
    if (readers.only(x) == n.get() && x->producer) {
      std::optional<Step> above = as_step(x->producer);
      if (above) continue;
    }
    std::vector<Step> steps{*s};
    std::vector<Step> rest = steps_below(readers, n->outputs[0]);
    steps.insert(steps.end(), rest.begin(), rest.end());
    if (count_transposes(steps) > 0) paths.emplace_back(x, std::move(steps));
  }
  bool changed = false;
  std::set<const Value*> gone;  // values whose readers moved to another value in this sweep
  for (auto& [top, steps] : paths) {
    if (gone.count(top)) continue;
    Value* bottom = steps.back().node->outputs[0];
    std::optional<Plan> plan = plan_path(sizes(top), steps, sizes(bottom), false);
    if (matmul_reading_rhs(readers, bottom)) {
      std::optional<Plan> flipped = plan_path(sizes(top), steps, sizes(bottom), true);
      if (flipped && (!plan || flipped->w.transposes() < plan->w.transposes())) plan = flipped;
    }
    if (!plan || plan->w.transposes() >= count_transposes(steps)) continue;
    gone.insert(rewrite_path(g, readers, top, steps, *plan));
    changed = true;
  }
  return changed;
}

}  // namespace paths

void simplify_transposes(ir::Graph& g) {
  using namespace paths;
  merge_neighbours(g);
  // Each round only removes TRANSPOSEs, so this ends; the bound is a guard.
  for (int round = 0; round < 32; ++round) {
    bool changed = hoist_splits(g);
    if (changed) merge_neighbours(g);
    changed |= merge_paths(g);
    merge_neighbours(g);
    changed |= hoist_through_junctions(g);
    merge_neighbours(g);
    changed |= relayouts(g);
    merge_neighbours(g);
    if (!changed) break;
  }
  merge_neighbours(g, true);
}

}  // namespace pt2tflite::passes
