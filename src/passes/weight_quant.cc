// TFLite level: convert-time weight quantization (ConvertOptions::weight_quant). Activations stay
// float; each weight kind takes the form that both LiteRT's builtin kernels and XNNPACK run
// (docs/quantization.md, "Weight quantization"):
//   FULLY_CONNECTED   int8 per output channel, read as is: the dynamic-range ("hybrid") kernel,
//                     XNNPACK's dynamically quantized FC (qd8 × qc8w); or, for int4, blockwise
//                     int4 with float16 scales (qd8 × qb4w).
//   CONV_2D           int8 per output channel, read as is (hybrid kernel; XNNPACK qd8 conv).
//   grouped CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV
//                     int8 per output channel through a DEQUANTIZE: XNNPACK has no hybrid kernel
//                     for these, and unpacks a constant DEQUANTIZE to float once, at load time.
//   GATHER of rows of a constant table (an embedding)
//                     EMBEDDING_LOOKUP of an int8-per-row (or blockwise int4) table.
// Weights with fewer than kMinWeightElements elements stay float (as in ai-edge-quantizer's
// recipes): they cost little and the first conv of a CNN is the most sensitive.
#include <map>
#include <tuple>

#include "ir/constants.h"
#include "passes/passes.h"
#include "quant/weight_quant.h"
#include "util/check.h"

namespace pt2tflite::passes {
namespace {

using ir::DType;
using ir::Graph;
using ir::Node;
using ir::Value;

constexpr int64_t kMinWeightElements = 1024;

// A float32 constant worth quantizing.
bool quantizable(const Value* w) {
  return w && w->is_const() && w->dtype == DType::kFloat32 && !w->quant &&
         ir::num_elements(w->shape) >= kMinWeightElements;
}

bool float_input(const Node& n, size_t i) {
  return n.inputs.size() > i && n.inputs[i] && n.inputs[i]->dtype == DType::kFloat32;
}

class Quantizer {
 public:
  Quantizer(Graph& g, const WeightQuantOptions& o) : g_(g), o_(o) {}

  // The int8 version of `w` with one scale per slice along `axis` (cached: a weight shared by
  // several ops, such as tied embeddings, is stored once).
  Value* int8(Value* w, int axis) {
    auto key = std::make_tuple(w, axis, 0);
    if (auto it = done_.find(key); it != done_.end()) return it->second;
    const std::vector<int64_t> sizes = ir::sizes_of(w->shape);
    int64_t inner = 1;
    for (size_t d = axis + 1; d < sizes.size(); ++d) inner *= sizes[d];
    const std::vector<float> values = ir::to_float_vector(*w);
    quant::Int8PerChannel q = quant::quantize_int8_per_channel(values, sizes[axis], inner);
    Value* out = g_.add_const(g_.unique_name(w->name), DType::kInt8, w->shape,
                              ir::ConstData::own(ir::to_bytes(std::span<const int8_t>(q.values))));
    out->quant = ir::QuantParams{std::move(q.scales), std::vector<int64_t>(sizes[axis], 0), axis, nullptr};
    return done_[key] = out;
  }

  // The blockwise int4 version of the [rows, cols] weight `w`, or nullptr when a scale does not fit float16.
  Value* int4(Value* w) {
    auto key = std::make_tuple(w, 0, 4);
    if (auto it = done_.find(key); it != done_.end()) return it->second;
    const int64_t rows = w->shape[0].size, cols = w->shape[1].size, block = o_.block_size;
    std::optional<quant::Int4Blockwise> q = quant::quantize_int4_blockwise(ir::to_float_vector(*w), rows, cols, block);
    if (!q) return done_[key] = nullptr;
    Value* out =
        g_.add_const(g_.unique_name(w->name), DType::kInt4, w->shape, ir::ConstData::own(std::move(q->packed)));
    auto scales = std::make_shared<ir::BlockwiseScales>();
    scales->block_size = static_cast<int32_t>(block);
    scales->shape = ir::static_shape(std::vector<int64_t>{rows, cols / block});
    scales->fp16_scales = ir::ConstData::own(ir::to_bytes(std::span<const uint16_t>(q->fp16_scales)));
    out->quant = ir::QuantParams{{}, {}, 0, std::move(scales)};
    return done_[key] = out;
  }

  // A float value computed by a DEQUANTIZE of the int8 version of `w`, placed before `user`.
  Value* dequantized(Value* w, int axis, const Node* user) {
    auto key = std::make_tuple(w, axis, 1);
    if (auto it = done_.find(key); it != done_.end()) return it->second;
    Value* full = g_.add_value(g_.unique_name(w->name), DType::kFloat32, w->shape);
    insert(user, ir::TflOp::DEQUANTIZE, {int8(w, axis)}, {full});
    return done_[key] = full;
  }

  // Whether a blockwise int4 FC with weights [rows, cols] runs right on both runtimes: XNNPACK
  // wants block % 32 == 0 and even cols; the builtin kernel has a blockwise path only in its
  // optimized 4-bit kernel, which it takes for >= 4 output units and >= 32 even input columns (else
  // it reads the weights as per-tensor int4 with scale 0, a wrong answer).
  bool blockwise_fits(const Value* w) const {
    const int64_t rows = w->shape[0].size, cols = w->shape[1].size;
    return w->rank() == 2 && rows >= 4 && cols >= 32 && cols % 2 == 0 && cols % o_.block_size == 0;
  }

  Node* insert(const Node* before, ir::TflOp op, std::vector<Value*> inputs, std::vector<Value*> outputs) {
    auto n = std::make_unique<Node>();
    n->set_op(op);
    n->name = g_.unique_name(before->name);
    n->source = before->source;
    n->inputs = std::move(inputs);
    n->outputs = std::move(outputs);
    return g_.insert_node(before, std::move(n));
  }

  Value* const_i32(const std::string& stem, const std::vector<int32_t>& values) {
    return g_.add_const(g_.unique_name(stem), DType::kInt32,
                        ir::static_shape(std::vector<int64_t>{static_cast<int64_t>(values.size())}),
                        ir::ConstData::own(ir::to_bytes(std::span<const int32_t>(values))));
  }

  bool int4_mode() const { return o_.mode == WeightQuantMode::kInt4; }
  Graph& graph() { return g_; }

 private:
  Graph& g_;
  const WeightQuantOptions& o_;
  std::map<std::tuple<Value*, int, int>, Value*> done_;
};

// Moves a fused activation off `n` into an op of its own after it (the builtin blockwise int4 FC
// kernel does not apply one).
void unfuse_activation(Quantizer& q, Node* n) {
  const ir::Activation act = ir::fused_activation(*n);
  if (act == ir::Activation::NONE) return;
  Value* y = n->outputs[0];
  Value* pre = q.graph().add_value(q.graph().unique_name(y->name), y->dtype, y->shape);
  ir::set_fused_activation(*n, ir::Activation::NONE);
  n->outputs[0] = pre;
  pre->producer = n;
  // Inserted before the op that follows `n`: find it by position.
  const auto& nodes = q.graph().nodes();
  const Node* next = nullptr;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].get() == n) next = i + 1 < nodes.size() ? nodes[i + 1].get() : nullptr;
  auto a = std::make_unique<Node>();
  a->set_op(ir::activation_op(act));
  a->name = q.graph().unique_name(n->name);
  a->source = n->source;
  a->inputs = {pre};
  a->outputs = {y};
  q.graph().insert_node(next, std::move(a));
}

void quantize_fully_connected(Quantizer& q, Node* n) {
  Value* w = n->inputs[1];
  if (!quantizable(w) || w->rank() != 2 || !float_input(*n, 0)) return;
  if (q.int4_mode() && q.blockwise_fits(w)) {
    if (Value* w4 = q.int4(w)) {
      n->inputs[1] = w4;
      unfuse_activation(q, n);
      return;
    }
  }
  n->inputs[1] = q.int8(w, 0);  // int8 mode, or a layer blockwise int4 cannot take
}

void quantize_conv(Quantizer& q, Node* n) {
  Value* w = n->inputs[1];
  if (!quantizable(w) || !float_input(*n, 0) || w->rank() != 4) return;
  const bool grouped = n->inputs[0]->shape.back().size != w->shape.back().size;
  n->inputs[1] = grouped ? q.dequantized(w, 0, n) : q.int8(w, 0);
}

// GATHER(table, ids) along axis 0 of a constant 2-D table → EMBEDDING_LOOKUP(ids as int32 [N],
// quantized table), reshaped back to the GATHER's output shape.
void quantize_embedding(Quantizer& q, Node* n) {
  Value* table = n->inputs[0];
  Value* ids = n->inputs[1];
  Value* y = n->outputs[0];
  if (!quantizable(table) || table->rank() != 2 || n->get_int("axis") != 0) return;
  if (ids->dtype != DType::kInt32 && ids->dtype != DType::kInt64) return;
  if (ids->rank() > 1 && !ir::is_fully_static(ids->shape)) return;
  if (ids->rank() == 0) return;
  Value* quantized = q.int4_mode() && q.blockwise_fits(table) ? q.int4(table) : nullptr;
  if (!quantized) quantized = q.int8(table, 0);
  // EMBEDDING_LOOKUP reads int32 ids. An int64 id that is a CAST of an int32 one is read before the
  // CAST (same values); any other is narrowed (an id past int32 is out of range either way).
  if (ids->dtype == DType::kInt64) {
    if (ids->producer && ids->producer->is(ir::TflOp::CAST) && ids->producer->inputs[0]->dtype == DType::kInt32) {
      ids = ids->producer->inputs[0];
    } else {
      Value* narrow = q.graph().add_value(q.graph().unique_name(ids->name), DType::kInt32, ids->shape);
      Node* c = q.insert(n, ir::TflOp::CAST, {ids}, {narrow});
      c->set("in_data_type", static_cast<int64_t>(DType::kInt64));
      c->set("out_data_type", static_cast<int64_t>(DType::kInt32));
      ids = narrow;
    }
  }
  const int64_t count = ir::num_elements(ids->shape);
  if (ids->rank() != 1) {
    Value* flat = q.graph().add_value(q.graph().unique_name(ids->name), DType::kInt32,
                                      ir::static_shape(std::vector<int64_t>{count}));
    q.insert(n, ir::TflOp::RESHAPE, {ids, q.const_i32(ids->name + "_shape", {static_cast<int32_t>(count)})}, {flat});
    ids = flat;
  }
  n->args.clear();
  if (y->rank() == 2) {
    n->set_op(ir::TflOp::EMBEDDING_LOOKUP);
    n->inputs = {ids, quantized};
    return;
  }
  ir::Shape rows_shape = {ids->shape[0], table->shape[1]};
  Value* rows = q.graph().add_value(q.graph().unique_name(y->name), DType::kFloat32, rows_shape);
  q.insert(n, ir::TflOp::EMBEDDING_LOOKUP, {ids, quantized}, {rows});
  std::vector<int32_t> out_shape;
  for (const ir::Dim& d : y->shape) out_shape.push_back(static_cast<int32_t>(d.size));
  n->set_op(ir::TflOp::RESHAPE);
  n->inputs = {rows, q.const_i32(y->name + "_shape", out_shape)};
}

}  // namespace

void weight_quant(ir::Graph& g, const WeightQuantOptions& options) {
  PT2_CHECK(options.mode != WeightQuantMode::kNone, "weight_quant runs only when asked for");
  Quantizer q(g, options);
  std::vector<Node*> snapshot;
  for (const auto& n : g.nodes()) snapshot.push_back(n.get());
  for (Node* n : snapshot) {
    if (n->is(ir::TflOp::FULLY_CONNECTED))
      quantize_fully_connected(q, n);
    else if (n->is(ir::TflOp::CONV_2D))
      quantize_conv(q, n);
    else if (n->is(ir::TflOp::DEPTHWISE_CONV_2D) && quantizable(n->inputs[1]) && float_input(*n, 0))
      n->inputs[1] = q.dequantized(n->inputs[1], 3, n);
    else if (n->is(ir::TflOp::TRANSPOSE_CONV) && quantizable(n->inputs[1]) && float_input(*n, 2))
      n->inputs[1] = q.dequantized(n->inputs[1], 0, n);
    else if (n->is(ir::TflOp::GATHER) && n->inputs[0]->is_const())
      quantize_embedding(q, n);
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
