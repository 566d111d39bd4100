// Elementwise chains that apply small broadcast operands (per-channel scales, per-image norms) to
// a full-size activation one at a time are regrouped so that the small operands combine first and
// the activation is read and written once:
//   (x · v) · c      → x · (v · c)          c a constant, v a small run-time tensor
//   (z + b) + w      → (z + w) + b          b a constant: it can then fold into a following FC
//   (x · s) + x      → x · (s + 1)          s small
// ConvNeXt-V2's global response norm, x + (γ · (x · n) + β), is three full-size passes after this
// instead of four, and β then folds into the next FULLY_CONNECTED (fold_channel_affine). The
// results equal the originals up to float rounding, as any reassociation does.
#include <algorithm>
#include <memory>

#include "ir/constants.h"
#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

using ir::Value;

bool plain_float(const Value* v) { return v && v->dtype == ir::DType::kFloat32 && !v->quant; }

bool no_activation(const ir::Node& n) { return ir::fused_activation(n) == ir::Activation::NONE; }

// The single-use, activation-free producer of `v` with op `op`, or null.
ir::Node* sole_producer(const ir::Graph& g, const Value* v, ir::TflOp op) {
  ir::Node* p = v->producer;
  if (!p || !p->is(op) || !no_activation(*p) || g.use_count(v) != 1) return nullptr;
  if (std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end()) return nullptr;
  return p;
}

// The broadcast of shapes `a` and `b` (numpy rules), or empty when they do not broadcast.
std::vector<int64_t> broadcast_sizes(std::vector<int64_t> a, std::vector<int64_t> b) {
  if (a.size() < b.size()) std::swap(a, b);
  b.insert(b.begin(), a.size() - b.size(), 1);
  for (size_t d = 0; d < a.size(); ++d) {
    if (a[d] == b[d] || b[d] == 1) continue;
    if (a[d] != 1) return {};
    a[d] = b[d];
  }
  return a;
}

// True when `v` is a full-size operand of `y` (its shape) and `s` a strictly smaller one that
// broadcasts to it.
bool full_and_small(const Value* v, const Value* s, const Value* y) {
  return v->shape == y->shape && s->rank() <= y->rank() && ir::num_elements(s->shape) < ir::num_elements(y->shape) &&
         broadcast_sizes(ir::sizes_of(s->shape), ir::sizes_of(y->shape)) == ir::sizes_of(y->shape);
}

// Emits `op`(a, b) before `pos` and returns its output, shaped as their broadcast.
Value* emit_small(ir::Graph& g, const ir::Node& pos, ir::TflOp op, Value* a, Value* b) {
  const auto shape = broadcast_sizes(ir::sizes_of(a->shape), ir::sizes_of(b->shape));
  Value* out = g.add_value(g.unique_name(pos.name + "_small"), ir::DType::kFloat32, ir::static_shape(shape));
  auto n = std::make_unique<ir::Node>();
  n->set_op(op);
  n->name = g.unique_name(pos.name);
  n->source = pos.source;
  n->inputs = {a, b};
  n->outputs = {out};
  ir::set_fused_activation(*n, ir::Activation::NONE);
  g.insert_node(&pos, std::move(n));
  return out;
}

// (x · v) · c → x · (v · c).
bool merge_scales(ir::Graph& g, ir::Node& n) {
  Value* y = n.outputs[0];
  for (int side = 0; side < 2; ++side) {
    Value* c = n.inputs[side];
    Value* a = n.inputs[1 - side];
    if (!c->is_const()) continue;
    ir::Node* inner = sole_producer(g, a, ir::TflOp::MUL);
    if (!inner) continue;
    for (int k = 0; k < 2; ++k) {
      Value* x = inner->inputs[k];
      Value* v = inner->inputs[1 - k];
      if (v->is_const() || !plain_float(x) || !plain_float(v) || !full_and_small(x, v, y) || !full_and_small(x, c, y))
        continue;
      const auto vc_sizes = broadcast_sizes(ir::sizes_of(v->shape), ir::sizes_of(c->shape));
      if (ir::num_elements(ir::static_shape(vc_sizes)) >= ir::num_elements(y->shape)) continue;  // nothing saved
      n.inputs = {x, emit_small(g, n, ir::TflOp::MUL, v, c)};
      return true;
    }
  }
  return false;
}

// Moves `node` to just before `pos` (a later node): valid when `node`'s only reader is `pos`.
void move_before(ir::Graph& g, ir::Node* node, const ir::Node* pos) {
  auto& nodes = g.mutable_nodes();
  auto it = std::find_if(nodes.begin(), nodes.end(), [&](const auto& p) { return p.get() == node; });
  std::unique_ptr<ir::Node> owned = std::move(*it);
  nodes.erase(it);
  g.insert_node(pos, std::move(owned));
}

// (z + b) + w → (z + w) + b, with b constant and z, w full size.
bool constant_add_last(ir::Graph& g, ir::Node& n) {
  Value* y = n.outputs[0];
  for (int side = 0; side < 2; ++side) {
    Value* inner_out = n.inputs[side];
    Value* w = n.inputs[1 - side];
    ir::Node* inner = sole_producer(g, inner_out, ir::TflOp::ADD);
    if (!inner || w->shape != y->shape || w->is_const()) continue;
    for (int k = 0; k < 2; ++k) {
      Value* z = inner->inputs[k];
      Value* b = inner->inputs[1 - k];
      if (!b->is_const() || z->shape != y->shape || z->is_const() || !plain_float(z)) continue;
      inner->inputs = {z, w};
      n.inputs = {inner_out, b};
      move_before(g, inner, &n);  // w may be computed after the inner ADD's old place
      return true;
    }
  }
  return false;
}

// (x · s) + x → x · (s + 1).
bool distribute_residual(ir::Graph& g, ir::Node& n) {
  Value* y = n.outputs[0];
  for (int side = 0; side < 2; ++side) {
    Value* m = n.inputs[side];
    Value* x = n.inputs[1 - side];
    ir::Node* mul = sole_producer(g, m, ir::TflOp::MUL);
    if (!mul) continue;
    for (int k = 0; k < 2; ++k) {
      Value* s = mul->inputs[1 - k];
      if (mul->inputs[k] != x || !full_and_small(x, s, y)) continue;
      Value* s1;
      if (s->is_const()) {  // s + 1 at convert time (constant folding has already run)
        std::vector<float> v = ir::to_float_vector(*s);
        for (float& f : v) f += 1.0f;
        s1 = g.add_const(g.unique_name(n.name + "_scale"), ir::DType::kFloat32, s->shape,
                         ir::ConstData::own(ir::to_bytes(std::span<const float>(v))));
      } else {
        const float one = 1.0f;
        Value* c1 = g.add_const(g.unique_name(n.name + "_one"), ir::DType::kFloat32, {},
                                ir::ConstData::own(ir::to_bytes(std::span<const float>(&one, 1))));
        s1 = emit_small(g, n, ir::TflOp::ADD, s, c1);
      }
      n.set_op(ir::TflOp::MUL);
      n.inputs = {x, s1};
      return true;
    }
  }
  return false;
}

bool rewrite_once(ir::Graph& g) {
  std::vector<ir::Node*> snapshot;
  for (const auto& n : g.nodes()) snapshot.push_back(n.get());
  bool changed = false;
  for (ir::Node* n : snapshot) {
    if (n->inputs.size() != 2 || n->outputs.size() != 1 || !n->outputs[0]) continue;
    if (!plain_float(n->outputs[0]) || !plain_float(n->inputs[0]) || !plain_float(n->inputs[1])) continue;
    if (n->is(ir::TflOp::MUL)) {
      changed |= merge_scales(g, *n);
    } else if (n->is(ir::TflOp::ADD)) {
      // Reorders first so that the residual ADD meets the MUL it can absorb.
      if (constant_add_last(g, *n)) {
        changed = true;
        continue;
      }
      changed |= distribute_residual(g, *n);
    }
  }
  g.remove_dead();
  return changed;
}

}  // namespace

void reassociate_broadcasts(ir::Graph& g) {
  for (int round = 0; round < 8 && rewrite_once(g); ++round) {}
}

}  // namespace pt2tflite::passes
