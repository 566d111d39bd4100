// A per-output-channel affine step right after a CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV or
// FULLY_CONNECTED, folded into that op's constants, as batch norm is at the ATen level:
//   conv(x) + c == conv with bias + c          (hardsigmoid's relu6(x + 3) after a conv)
//   conv(x) · c == conv with filter·c, bias·c  (layer scale; attention's q · head_dim^-0.5)
// c is one value per output channel, or a single value; a single-value MUL is also folded through the
// RESHAPEs and TRANSPOSEs between it and the op, which move elements without changing them.
//
// The same step right before FULLY_CONNECTED ops, per input channel (the last axis), is folded
// into each of them when they are its only readers:
//   fc(x · c) == fc with weight columns scaled by c
//   fc(x + c) == fc with bias + W·c
// That is a layer norm's weight and bias in a pre-norm transformer (LN → q/k/v or MLP, also
// through a window partition or a roll), which would otherwise be two elementwise passes over the
// activations in every block.
#include <algorithm>
#include <optional>
#include <span>

#include "ir/constants.h"
#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

using ir::Value;

bool is_affine_producer(const ir::Node* p) { return p && ir::is_weighted(*p); }

// TRANSPOSE_CONV takes (output_shape, filter, input, bias); the others (input, filter, bias).
size_t bias_index(const ir::Node& p) { return p.is(ir::TflOp::TRANSPOSE_CONV) ? 3 : 2; }

// The per-output-channel values of `c` for an op with `cout` channels on the last axis, or
// empty when `c` varies along another axis or would broadcast the output to a larger rank.
std::vector<float> per_channel(const Value* c, int out_rank, int64_t cout) {
  if (!c->is_const() || c->quant || c->dtype != ir::DType::kFloat32 || c->rank() > out_rank) return {};
  for (int d = 0; d + 1 < c->rank(); ++d)
    if (c->shape[d].size != 1) return {};
  std::vector<float> v = ir::to_float_vector(*c);
  if (v.size() == 1) return std::vector<float>(cout, v[0]);
  if (static_cast<int64_t>(v.size()) != cout) return {};
  return v;
}

Value* new_f32(ir::Graph& g, const std::string& stem, const ir::Shape& shape, const std::vector<float>& v) {
  return g.add_const(g.unique_name(stem), ir::DType::kFloat32, shape,
                     ir::ConstData::own(ir::to_bytes(std::span<const float>(v))));
}

// Rewrites producer `p`'s filter and bias for `op` (ADD / SUB / MUL) by `c`; false when its
// constants are not plain float32.
bool fold_into(ir::Graph& g, ir::Node& p, ir::TflOp op, const std::vector<float>& c) {
  const int64_t cout = static_cast<int64_t>(c.size());
  Value* filter = p.inputs.at(1);
  const size_t bi = bias_index(p);
  Value* bias = p.inputs.size() > bi ? p.inputs[bi] : nullptr;
  if (!filter->is_const() || filter->dtype != ir::DType::kFloat32 || filter->quant) return false;
  if (bias && (!bias->is_const() || bias->dtype != ir::DType::kFloat32 || bias->quant)) return false;
  std::vector<float> b = bias ? ir::to_float_vector(*bias) : std::vector<float>(cout, 0.0f);
  for (int64_t o = 0; o < cout; ++o)
    b[o] = op == ir::TflOp::ADD ? b[o] + c[o] : op == ir::TflOp::SUB ? b[o] - c[o] : b[o] * c[o];
  if (op == ir::TflOp::MUL) {
    // Output channel of filter element i: CONV_2D / TRANSPOSE_CONV / FC [Cout, ...] → i / (size / Cout);
    // DEPTHWISE_CONV_2D [1, kH, kW, Cout] → i % Cout.
    std::vector<float> w = ir::to_float_vector(*filter);
    const size_t per_out = w.size() / cout;
    for (size_t i = 0; i < w.size(); ++i) w[i] *= c[p.is(ir::TflOp::DEPTHWISE_CONV_2D) ? i % cout : i / per_out];
    p.inputs[1] = new_f32(g, p.name + "_filter", filter->shape, w);
  }
  p.inputs.resize(bi + 1);
  p.inputs[bi] = new_f32(g, p.name + "_bias", ir::static_shape(std::vector<int64_t>{cout}), b);
  return true;
}

// True when `u` only moves whole channel vectors of its data input: the last axis stays last and
// whole (RESHAPE keeping it, TRANSPOSE fixing it, SLICE or CONCATENATION along another axis).
// A per-channel constant then commutes with `u`. PAD does not qualify: the zeros it adds would
// not carry the constant.
bool moves_channels_whole(const ir::Node& u) {
  const Value* in = u.inputs.empty() ? nullptr : u.inputs[0];
  const Value* out = u.outputs.size() == 1 ? u.outputs[0] : nullptr;
  if (!in || !out || in->rank() == 0 || out->rank() == 0 || out->shape.back() != in->shape.back()) return false;
  if (u.is(ir::TflOp::RESHAPE) || u.is(ir::TflOp::SLICE)) return true;
  if (u.is(ir::TflOp::TRANSPOSE)) {
    const Value* perm = u.inputs[1];
    return perm->is_const() && ir::to_int_vector(*perm).back() == in->rank() - 1;
  }
  if (u.is(ir::TflOp::CONCATENATION)) {
    int64_t axis = u.get_int("axis");
    if (axis < 0) axis += out->rank();
    return axis != out->rank() - 1 && ir::fused_activation(u) == ir::Activation::NONE;
  }
  return false;
}

// The FULLY_CONNECTED ops that read `y` as their input, directly or through ops that move whole
// channel vectors (a window partition, a roll), or nullopt when anything else reads it or what
// it becomes, or one of those is a graph output.
std::optional<std::vector<ir::Node*>> fc_readers(const ir::Graph& g, Value* y) {
  std::vector<Value*> derived = {y};
  std::vector<ir::Node*> fcs, concats;
  auto is_derived = [&](const Value* v) { return std::find(derived.begin(), derived.end(), v) != derived.end(); };
  for (size_t i = 0; i < derived.size(); ++i) {
    const Value* v = derived[i];
    if (std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end() || v->quant) return std::nullopt;
    for (ir::Node* u : g.users(v)) {
      if (moves_channels_whole(*u) && (u->is(ir::TflOp::CONCATENATION) ||
                                       (u->inputs[0] == v && std::count(u->inputs.begin(), u->inputs.end(), v) == 1))) {
        if (u->is(ir::TflOp::CONCATENATION)) concats.push_back(u);
        if (!is_derived(u->outputs[0])) derived.push_back(u->outputs[0]);
        continue;
      }
      if (!u->is(ir::TflOp::FULLY_CONNECTED) || u->inputs[0] != v || u->inputs[1] == v) return std::nullopt;
      const Value* w = u->inputs[1];
      const Value* b = u->inputs.size() > 2 ? u->inputs[2] : nullptr;
      if (!w->is_const() || w->quant || w->dtype != ir::DType::kFloat32 || w->rank() != 2 ||
          w->shape[1].size != v->shape.back().size)
        return std::nullopt;
      if (b && (!b->is_const() || b->quant || b->dtype != ir::DType::kFloat32)) return std::nullopt;
      if (std::find(fcs.begin(), fcs.end(), u) == fcs.end()) fcs.push_back(u);
    }
  }
  // A concatenation carries the constant only when every piece of it does (a roll's two halves).
  for (const ir::Node* c : concats)
    if (!std::all_of(c->inputs.begin(), c->inputs.end(), is_derived)) return std::nullopt;
  return fcs;
}

// Folds `op` (ADD / SUB / MUL by the per-input-channel `c`) into FULLY_CONNECTED `fc`'s weight
// (MUL) or bias (ADD, SUB), as new constants: a weight may be shared with other ops.
void fold_into_input(ir::Graph& g, ir::Node& fc, ir::TflOp op, const std::vector<float>& c) {
  const Value* w = fc.inputs[1];
  const int64_t cout = w->shape[0].size, k = w->shape[1].size;
  const std::span<const float> wv = w->data->as<float>();  // float32 (fc_readers checked): read in place
  if (op == ir::TflOp::MUL) {
    std::vector<float> scaled(wv.size());
    for (int64_t o = 0; o < cout; ++o)
      for (int64_t i = 0; i < k; ++i) scaled[o * k + i] = wv[o * k + i] * c[i];
    fc.inputs[1] = new_f32(g, fc.name + "_filter", w->shape, scaled);
    return;
  }
  const Value* b = fc.inputs.size() > 2 ? fc.inputs[2] : nullptr;
  std::vector<float> bias = b ? ir::to_float_vector(*b) : std::vector<float>(cout, 0.0f);
  for (int64_t o = 0; o < cout; ++o) {
    double acc = 0;
    for (int64_t i = 0; i < k; ++i) acc += static_cast<double>(wv[o * k + i]) * c[i];
    bias[o] = static_cast<float>(bias[o] + (op == ir::TflOp::SUB ? -acc : acc));
  }
  fc.inputs.resize(3);
  fc.inputs[2] = new_f32(g, fc.name + "_bias", ir::static_shape(std::vector<int64_t>{cout}), bias);
}

// One sweep of the input-side fold; true when something changed (a layer norm's MUL folds only
// once the ADD after it has).
bool fold_input_affine_once(ir::Graph& g) {
  bool changed = false;
  for (const auto& n : g.nodes()) {
    if (!n->is(ir::TflOp::ADD) && !n->is(ir::TflOp::SUB) && !n->is(ir::TflOp::MUL)) continue;
    Value* y = n->outputs[0];
    if (!y || y->quant || y->rank() == 0 || ir::fused_activation(*n) != ir::Activation::NONE) continue;
    for (int side = 0; side < (n->is(ir::TflOp::SUB) ? 1 : 2); ++side) {
      Value* x = n->inputs[side];
      Value* c = n->inputs[1 - side];
      if (x->shape != y->shape || x->quant || x->is_const()) continue;
      const std::vector<float> cv = per_channel(c, y->rank(), y->shape.back().size);
      if (cv.empty()) continue;
      const auto fcs = fc_readers(g, y);
      if (!fcs || fcs->empty()) continue;
      for (ir::Node* fc : *fcs) fold_into_input(g, *fc, *ir::tfl_op(*n), cv);
      g.replace_uses(y, x);
      changed = true;
      break;
    }
  }
  g.remove_dead();
  return changed;
}

}  // namespace

void fold_channel_affine(ir::Graph& g) {
  for (const auto& n : g.nodes()) {
    if (!n->is(ir::TflOp::ADD) && !n->is(ir::TflOp::SUB) && !n->is(ir::TflOp::MUL)) continue;
    Value* y = n->outputs[0];
    for (int side = 0; side < (n->is(ir::TflOp::SUB) ? 1 : 2); ++side) {
      Value* x = n->inputs[side];
      Value* c = n->inputs[1 - side];
      if (x->shape != y->shape || x->quant || y->quant) continue;
      // A scalar MUL may sit behind single-use RESHAPE / TRANSPOSE steps.
      Value* z = x;
      if (n->is(ir::TflOp::MUL) && c->is_const() && ir::num_elements(c->shape) == 1 &&
          ir::fused_activation(*n) == ir::Activation::NONE)
        while (z->producer && (z->producer->is(ir::TflOp::RESHAPE) || z->producer->is(ir::TflOp::TRANSPOSE)) &&
               g.use_count(z) == 1 && !z->quant)
          z = z->producer->inputs[0];
      ir::Node* p = z->producer;
      if (!is_affine_producer(p) || ir::fused_activation(*p) != ir::Activation::NONE || g.use_count(z) != 1 || z->quant)
        continue;
      // The producer takes over the op's fused activation only where its kernels apply one.
      if (!ir::accepts_fused_activation(*p) && ir::fused_activation(*n) != ir::Activation::NONE) continue;
      const int64_t cout = p->inputs[1]->shape[p->is(ir::TflOp::DEPTHWISE_CONV_2D) ? 3 : 0].size;
      const std::vector<float> shift = per_channel(c, z == x ? x->rank() : c->rank(), cout);
      if (shift.empty() || !fold_into(g, *p, *ir::tfl_op(*n), shift)) continue;
      if (z == x) {  // the producer now computes y itself, with the op's fused activation
        ir::set_fused_activation(*p, ir::fused_activation(*n));
        p->outputs[0] = y;
        y->producer = p;
        n->outputs[0] = nullptr;  // remove_dead drops the op
      } else {
        g.replace_uses(y, x);
      }
      break;
    }
  }
  g.remove_dead();
  while (fold_input_affine_once(g)) {}
}

}  // namespace pt2tflite::passes
