// TFLite level: turns PT2E quantization islands into native int8 ops.
//
// Lowering leaves every quantized activation as int8 → DEQUANTIZE → float op → QUANTIZE → int8,
// and every quantized weight as an int8 constant with its parameters. An op whose activation
// inputs all come from DEQUANTIZE and whose output is only read by QUANTIZE is rewired to read the
// int8 tensors and write the quantized one (with an int32 bias for convolutions and
// FULLY_CONNECTED), which is what convert_pt2e's reference computes, up to the rounding of
// TFLite's fixed-point requantization (≤ 1 LSB). Ops that cannot run in int8 stay float between
// their DEQUANTIZE and QUANTIZE; their int8 weights get a DEQUANTIZE of their own.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

using ir::Graph;
using ir::Node;
using ir::Value;

// What an op needs to run in int8: its kind from the op table's INT8 column (after TFLite's
// quantization spec, tensorflow/lite/g3doc/performance/quantization_spec.md) and that kind's details.
struct Int8Rule {
  ir::Int8Kind kind;
  int activation = 0;  // WEIGHTED: the activation, weight and bias input slots,
  int weight = 1;      // and the weight dim TFLite quantizes per channel
  int bias = 2;
  int weight_dim = 0;
  float fixed_scale = 0;  // FIXED
  int64_t fixed_zero_point = 0;
};

Int8Rule int8_rule(const Node& n) {
  Int8Rule r{ir::int8_kind(n)};
  if (n.is(ir::TflOp::TRANSPOSE_CONV)) r.activation = 2, r.bias = 3;  // (output_shape, filter, input, bias)
  if (n.is(ir::TflOp::DEPTHWISE_CONV_2D)) r.weight_dim = 3;           // filter [1, kH, kW, Cout]
  if (n.is(ir::TflOp::LOGISTIC) || n.is(ir::TflOp::SOFTMAX)) r.fixed_scale = 1.0f / 256, r.fixed_zero_point = -128;
  if (n.is(ir::TflOp::TANH)) r.fixed_scale = 1.0f / 128, r.fixed_zero_point = 0;
  return r;
}

// Ops that only move elements (PAD fills with the zero point, i.e. real 0) and whose int8 kernel
// keeps the input's parameters: a DEQUANTIZE before them can move after them, so the data
// movement runs on int8. Not CONCATENATION: sink_dequantize moves one activation operand.
bool is_int8_data_movement(const Node& n) {
  return ir::moves_elements(n) && ir::int8_kind(n) == ir::Int8Kind::SAME && !n.is(ir::TflOp::CONCATENATION);
}

// XNNPACK and TFLite's int8 kernels take per-tensor activations only.
bool is_int8_per_tensor(const Value* v) {
  return v && v->dtype == ir::DType::kInt8 && v->quant && v->quant->scale.size() == 1;
}

// The int8 tensor a DEQUANTIZE turned into `v`, or null.
Value* dequantized_source(const Value* v) {
  const Node* p = v ? v->producer : nullptr;
  if (!p || !p->is(ir::TflOp::DEQUANTIZE)) return nullptr;
  return is_int8_per_tensor(p->inputs[0]) ? p->inputs[0] : nullptr;
}

// The QUANTIZE nodes reading `v` when they are all its readers and agree on int8 per-tensor
// parameters; empty otherwise.
std::vector<Node*> quantizing_users(const Graph& g, const Value* v) {
  if (std::count(g.outputs.begin(), g.outputs.end(), v)) return {};
  std::vector<Node*> users = g.users(v);
  for (const Node* u : users) {
    const Value* q = u->outputs.at(0);
    if (!u->is(ir::TflOp::QUANTIZE) || !is_int8_per_tensor(q) || *q->quant != *users[0]->outputs[0]->quant) return {};
  }
  return users;
}

// Inserts `op` before `pos` reading `in` and writing a new tensor like `in` with `quant`.
Value* insert_before(Graph& g, const Node* pos, ir::TflOp op, Value* in, ir::DType dtype,
                     std::optional<ir::QuantParams> quant) {
  Value* out = g.add_value(g.unique_name(in->name), dtype, in->shape);
  out->quant = std::move(quant);
  auto n = std::make_unique<Node>();
  n->set_op(op);
  n->name = g.unique_name(pos->name);
  n->source = pos->source;
  n->inputs = {in};
  n->outputs = {out};
  g.insert_node(pos, std::move(n));
  return out;
}

// A quantized weight TFLite's int8 kernels accept: int8, zero point 0, per tensor or per channel
// along the op's channel dim.
bool is_int8_weight(const Value* w, int channel_dim) {
  if (!w || !w->is_const() || w->dtype != ir::DType::kInt8 || !w->quant) return false;
  const ir::QuantParams& q = *w->quant;
  if (std::any_of(q.zero_point.begin(), q.zero_point.end(), [](int64_t z) { return z != 0; })) return false;
  return q.scale.size() == 1 ||
         (q.axis == channel_dim && static_cast<int64_t>(q.scale.size()) == w->shape.at(channel_dim).size);
}

// The int32 bias round(b[c] / (s_in·s_w[c])) with scale s_in·s_w[c], zero point 0, dim 0 — the
// form TFLite's int8 kernels and XNNPACK require. Per tensor when the weights are. nullptr when a
// bias value is not finite: the op then stays float between DEQUANTIZE and QUANTIZE, as the PT2E
// reference computes it (an int32 cannot hold NaN).
Value* int32_bias(Graph& g, const Value* b, float s_in, const ir::QuantParams& wq) {
  std::span<const float> values = b->data->as<float>();
  if (!std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); })) return nullptr;
  ir::QuantParams q;
  for (float s : wq.scale) q.scale.push_back(s_in * s);
  q.zero_point.assign(q.scale.size(), 0);
  std::vector<int32_t> ints(values.size());
  for (size_t c = 0; c < values.size(); ++c) {
    const double r = std::round(static_cast<double>(values[c]) / q.scale[q.scale.size() == 1 ? 0 : c]);
    ints[c] = static_cast<int32_t>(
        std::clamp<double>(r, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
  }
  std::vector<uint8_t> bytes(ints.size() * sizeof(int32_t));
  std::memcpy(bytes.data(), ints.data(), bytes.size());
  Value* c = g.add_const(g.unique_name(b->name), ir::DType::kInt32, b->shape, ir::ConstData::own(std::move(bytes)));
  c->quant = std::move(q);
  return c;
}

// Rewires `n` to run in int8 when its island allows it (see the file comment). Returns whether it did.
bool to_int8(Graph& g, Node* n, const Int8Rule& rule) {
  if (n->outputs.size() != 1 || !n->outputs[0] || n->outputs[0]->dtype != ir::DType::kFloat32) return false;
  std::vector<Node*> quantizes = quantizing_users(g, n->outputs[0]);
  if (quantizes.empty()) return false;
  Value* q_out = quantizes[0]->outputs[0];
  const ir::QuantParams& out_q = *q_out->quant;

  std::vector<std::pair<size_t, Value*>> sources;  // activation slot → its int8 tensor
  for (size_t k = 0; k < n->inputs.size(); ++k) {
    Value* v = n->inputs[k];
    if (!v || (rule.kind == ir::Int8Kind::WEIGHTED && static_cast<int>(k) != rule.activation)) continue;
    if (v->is_const()) {
      if (ir::is_floating(v->dtype)) return false;  // a float operand such as x + 1: stays float
      // A quantized constant operand (x + c with c quantized) is read as it is, when the op
      // allows its own parameters; integer constants are shapes, axes and paddings.
      if (v->quant && (rule.kind != ir::Int8Kind::FREE || !is_int8_per_tensor(v))) return false;
      continue;
    }
    Value* src = dequantized_source(v);
    if (!src) return false;
    sources.emplace_back(k, src);
  }
  if (sources.empty()) return false;
  if (rule.kind == ir::Int8Kind::FIXED && (std::abs(out_q.scale[0] - rule.fixed_scale) > 1e-3f * rule.fixed_scale ||
                                           out_q.zero_point[0] != rule.fixed_zero_point))
    return false;

  if (rule.kind == ir::Int8Kind::WEIGHTED) {
    const Value* w = n->inputs.at(rule.weight);
    const Value* b = static_cast<size_t>(rule.bias) < n->inputs.size() ? n->inputs[rule.bias] : nullptr;
    if (!is_int8_weight(w, rule.weight_dim)) return false;
    if (b && (!b->is_const() || b->dtype != ir::DType::kFloat32)) return false;
    if (b) {
      Value* bias = int32_bias(g, b, sources[0].second->quant->scale[0], *w->quant);
      if (!bias) return false;
      n->inputs[rule.bias] = bias;
    }
  }

  for (auto [k, src] : sources) {
    // Max, data movement and concatenation commute with requantization, so inputs quantized
    // differently are requantized to the output's parameters first (exact but for average pooling).
    if (rule.kind == ir::Int8Kind::SAME && *src->quant != out_q)
      src = insert_before(g, n, ir::TflOp::QUANTIZE, src, ir::DType::kInt8, out_q);
    n->inputs[k] = src;
  }
  for (size_t j = 1; j < quantizes.size(); ++j) {
    g.replace_uses(quantizes[j]->outputs[0], q_out);
    quantizes[j]->outputs[0] = nullptr;
  }
  quantizes[0]->outputs[0] = nullptr;  // the QUANTIZE is now dead; remove_dead drops it
  n->outputs[0] = q_out;
  q_out->producer = n;
  return true;
}

// QUANTIZE(DEQUANTIZE(q)): nothing when the parameters agree, else an int8 → int8 requantize.
void fold_requantize(Graph& g, Node* n) {
  Value* out = n->outputs.at(0);
  Value* src = dequantized_source(n->inputs.at(0));
  if (!out || !src || out->dtype != ir::DType::kInt8) return;
  if (*src->quant == *out->quant) {
    g.replace_uses(out, src);
    n->outputs[0] = nullptr;
  } else {
    n->inputs[0] = src;
  }
}

// Data movement on a dequantized tensor runs on the int8 tensor instead, with the DEQUANTIZE after
// it, so the op that reads it can still run in int8 (e.g. the NCHW → NHWC TRANSPOSE at the input).
void sink_dequantize(Graph& g, Node* n) {
  Value* src = dequantized_source(n->inputs.at(0));
  Value* out = n->outputs.size() == 1 ? n->outputs[0] : nullptr;
  if (!src || !out) return;
  for (size_t k = 1; k < n->inputs.size(); ++k)
    if (n->inputs[k] && !n->inputs[k]->is_const()) return;
  Value* moved = g.add_value(g.unique_name(out->name), ir::DType::kInt8, out->shape);
  moved->quant = src->quant;
  n->inputs[0] = src;
  n->outputs[0] = moved;
  moved->producer = n;
  auto dq = std::make_unique<Node>();
  dq->set_op(ir::TflOp::DEQUANTIZE);
  dq->name = g.unique_name(n->name);
  dq->source = n->source;
  dq->inputs = {moved};
  dq->outputs = {out};
  const auto& nodes = g.nodes();
  auto it = std::find_if(nodes.begin(), nodes.end(), [n](const auto& p) { return p.get() == n; });
  g.insert_node(std::next(it) == nodes.end() ? nullptr : std::next(it)->get(), std::move(dq));
}

// Int8 weights of ops left in float get a DEQUANTIZE (XNNPACK unpacks a constant one at init, so
// it costs nothing per run). FULLY_CONNECTED with a float input keeps them: that is TFLite's
// dynamic-range ("hybrid") kernel and XNNPACK's dynamically quantized path.
void dequantize_float_op_weights(Graph& g) {
  std::map<Value*, Value*> dequantized;
  std::vector<Node*> snapshot;
  for (const auto& n : g.nodes()) snapshot.push_back(n.get());
  for (Node* n : snapshot) {
    if (n->is(ir::TflOp::DEQUANTIZE) || n->outputs.empty() || !n->outputs[0] || !ir::is_floating(n->outputs[0]->dtype))
      continue;
    for (size_t k = 0; k < n->inputs.size(); ++k) {
      Value* w = n->inputs[k];
      if (!w || !w->is_const() || !w->quant || w->dtype != ir::DType::kInt8) continue;
      if (n->is(ir::TflOp::FULLY_CONNECTED) && k == 1 && n->inputs[0]->dtype == ir::DType::kFloat32 &&
          is_int8_weight(w, 0))
        continue;
      auto [it, inserted] = dequantized.emplace(w, nullptr);
      if (inserted) it->second = insert_before(g, n, ir::TflOp::DEQUANTIZE, w, ir::DType::kFloat32, std::nullopt);
      n->inputs[k] = it->second;
    }
  }
}

}  // namespace

void fold_qdq(ir::Graph& g) {
  // Nodes inserted on the way (requantizes, moved DEQUANTIZEs) need no visit of their own.
  std::vector<Node*> snapshot;
  for (const auto& n : g.nodes()) snapshot.push_back(n.get());
  for (Node* n : snapshot) {
    if (n->is(ir::TflOp::QUANTIZE)) {
      fold_requantize(g, n);
      continue;
    }
    const Int8Rule rule = int8_rule(*n);
    if (rule.kind != ir::Int8Kind::NO && to_int8(g, n, rule)) continue;
    if (is_int8_data_movement(*n)) sink_dequantize(g, n);
  }
  dequantize_float_op_weights(g);
  g.remove_dead();
}

}  // namespace pt2tflite::passes
