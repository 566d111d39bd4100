// BROADCAST_TO is not delegated to XNNPACK, and PyTorch materializes broadcasts that TFLite ops
// would do by themselves: multi-query attention expands one key/value head to every query head
// before the matmul. When everything downstream of a BROADCAST_TO broadcasts anyway (elementwise
// ops with an operand of the full shape, BATCH_MATMUL over batch dims), the un-broadcast tensor
// flows through instead: RESHAPEs and scalar elementwise ops on the way keep the broadcast dims at 1.
#include <algorithm>
#include <optional>

#include "ir/constants.h"
#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

using ir::Value;
using Sizes = std::vector<int64_t>;

// The shape a RESHAPE of the full tensor `from_full` to `to_full` takes when applied to its
// un-broadcast form `from` instead: each run of merged/split dims keeps its sizes when it holds
// no broadcast dim and becomes all 1s when all its dims of size > 1 are broadcast; a run that
// mixes both cannot be reshaped before broadcasting (nullopt).
std::optional<Sizes> reshape_before_broadcast(const Sizes& from_full, const Sizes& from, const Sizes& to_full) {
  Sizes to(to_full.size(), 1);
  size_t i = 0, j = 0;
  while (i < from_full.size() && j < to_full.size()) {
    const size_t i0 = i, j0 = j;
    int64_t pin = from_full[i++], pout = to_full[j++];
    while (pin != pout) {
      if (pin < pout && i < from_full.size())
        pin *= from_full[i++];
      else if (pout < pin && j < to_full.size())
        pout *= to_full[j++];
      else
        return std::nullopt;
    }
    bool broadcast = false, kept = false;
    for (size_t k = i0; k < i; ++k) {
      if (from[k] != from_full[k])
        broadcast = true;
      else if (from_full[k] != 1)
        kept = true;
    }
    if (broadcast && kept) return std::nullopt;
    for (size_t k = j0; k < j; ++k) to[k] = broadcast ? 1 : to_full[k];
  }
  return to;
}

struct Rewrite {
  std::vector<std::pair<Value*, Sizes>> shapes;  // values that shrink to their un-broadcast shape
  // Operands that restore the full shape by broadcasting against a shrunk value. Each must keep
  // its full shape: if it is itself derived from the dropped broadcast ((v·2) + v), both sides
  // shrink and the result silently loses the broadcast dims.
  std::vector<const Value*> stay_full;
};

// True when every reader of `v` (full shape) works on its un-broadcast form `small`; records the
// values that shrink on the way.
bool readers_broadcast(const ir::Graph& g, const Value* v, const Sizes& small, Rewrite& rw) {
  if (std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end()) return false;
  const Sizes full = ir::sizes_of(v->shape);
  for (ir::Node* u : g.users(v)) {
    Value* out = u->outputs.empty() ? nullptr : u->outputs[0];
    if (!out || u->outputs.size() != 1 || out->quant || !ir::is_fully_static(out->shape)) return false;
    if (u->is(ir::TflOp::RESHAPE) && u->inputs[0] == v) {
      std::optional<Sizes> to = reshape_before_broadcast(full, small, ir::sizes_of(out->shape));
      if (!to) return false;
      rw.shapes.emplace_back(out, *to);
      if (!readers_broadcast(g, out, *to, rw)) return false;
    } else if (u->is(ir::TflOp::BATCH_MATMUL)) {
      // Only batch dims may be broadcast, and the other operand must carry every output batch dim.
      const int r = v->rank();
      if (r < 2 || small[r - 1] != full[r - 1] || small[r - 2] != full[r - 2]) return false;
      const Value* other = u->inputs[u->inputs[0] == v ? 1 : 0];
      if (other == v || other->rank() != r) return false;
      const Sizes o = ir::sizes_of(other->shape), y = ir::sizes_of(out->shape);
      for (int d = 0; d + 2 < r; ++d)
        if (o[d] != y[d]) return false;
      rw.stay_full.push_back(other);
    } else if (ir::is_arithmetic_binary(*u)) {
      const Value* other = u->inputs[u->inputs[0] == v ? 1 : 0];
      if (other == v) return false;
      if (other->shape == out->shape && out->shape == v->shape) {  // the op broadcasts `small` itself
        rw.stay_full.push_back(other);
        continue;
      }
      if (!other->is_const() || ir::num_elements(other->shape) != 1 || other->rank() > v->rank()) return false;
      rw.shapes.emplace_back(out, small);  // a scalar operand: the op runs on the small tensor
      if (!readers_broadcast(g, out, small, rw)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// True when no operand that must broadcast the shrunk values back is itself shrunk.
bool keeps_full_operands(const Rewrite& rw, const Value* broadcast) {
  for (const Value* v : rw.stay_full) {
    if (v == broadcast) return false;
    for (const auto& [shrunk, sizes] : rw.shapes)
      if (v == shrunk) return false;
  }
  return true;
}

Value* const_i32(ir::Graph& g, const std::string& stem, const Sizes& v) {
  std::vector<int32_t> ints(v.begin(), v.end());
  return g.add_const(g.unique_name(stem), ir::DType::kInt32, ir::static_shape(Sizes{static_cast<int64_t>(v.size())}),
                     ir::ConstData::own(ir::to_bytes(std::span<const int32_t>(ints))));
}

}  // namespace

void drop_broadcasts(ir::Graph& g) {
  for (const auto& b : g.nodes()) {
    if (!b->is(ir::TflOp::BROADCAST_TO)) continue;
    Value* x = b->inputs[0];
    Value* y = b->outputs[0];
    if (x->rank() != y->rank() || !ir::is_fully_static(y->shape) || x->quant) continue;
    Rewrite rw;
    if (!readers_broadcast(g, y, ir::sizes_of(x->shape), rw) || !keeps_full_operands(rw, y)) continue;
    for (auto& [v, sizes] : rw.shapes) {
      v->shape = ir::static_shape(sizes);
      if (v->producer->is(ir::TflOp::RESHAPE))
        v->producer->inputs[1] = const_i32(g, v->producer->name + "_shape", sizes);
    }
    g.replace_uses(y, x);
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
