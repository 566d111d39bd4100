#include "pipeline/output_check.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "pt2tflite/convert.h"
#include "schema_generated.h"
#include "util/check.h"

namespace pt2tflite::pipeline {
namespace {

using ir::Node;
using ir::Value;
using Sizes = std::vector<int64_t>;

constexpr int64_t kMaxDim = INT32_MAX;

std::string sizes_str(const Sizes& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

[[noreturn]] void refuse(const Node& n, const std::string& why) {
  throw ConversionError("the converted model would not load in LiteRT: " + n.op + " (node '" + n.name.substr(0, 80) +
                        "'): " + why +
                        ". The archive's declared shapes contradict its ops (if it came from "
                        "torch.export unchanged, please report this as a pt2tflite bug)");
}

bool is_static(const Value* v) { return v && ir::is_fully_static(v->shape); }

// A constant integer operand (perm, paddings, axes), or nullopt.
std::optional<Sizes> const_ints(const Value* v) {
  if (!v || !v->is_const()) return std::nullopt;
  Sizes out;
  if (v->dtype == ir::DType::kInt32)
    for (int32_t x : v->data->as<int32_t>()) out.push_back(x);
  else if (v->dtype == ir::DType::kInt64)
    for (int64_t x : v->data->as<int64_t>()) out.push_back(x);
  else
    return std::nullopt;
  return out;
}

// Output size of a window op over one spatial dim, as the TFLite kernels compute it.
int64_t window_out(const Node& n, int64_t in, int64_t filter, int64_t stride, int64_t dilation) {
  if (stride < 1 || dilation < 1 || filter < 1) refuse(n, "non-positive stride, dilation or filter size");
  int64_t effective = (filter - 1) * dilation + 1;
  if (ir::padding(n) == ir::Padding::SAME) return (in + stride - 1) / stride;
  if (in < effective) refuse(n, "the window is larger than the input");
  return (in - effective) / stride + 1;
}

// Ops whose output has the shape of input 0: per-element ops, and softmaxes along the last dim.
bool keeps_shape(const Node& n) {
  return ir::is_elementwise_unary(n) || n.is(ir::TflOp::SOFTMAX) || n.is(ir::TflOp::LOG_SOFTMAX);
}

// The output shape LiteRT computes for `n`, for the ops whose rule is simple enough to restate;
// nullopt for the others (and whenever a dim is symbolic).
std::optional<Sizes> computed_shape(const Node& n) {
  for (const Value* v : n.inputs)
    if (v && !is_static(v)) return std::nullopt;
  auto input = [&](size_t i) -> const Value* { return i < n.inputs.size() ? n.inputs[i] : nullptr; };
  auto sizes = [&](size_t i) { return ir::sizes_of(input(i)->shape); };
  if (!input(0)) return std::nullopt;
  if (keeps_shape(n)) return sizes(0);
  if (ir::is_elementwise_binary(n) && input(1)) {
    auto b = ir::broadcast_sizes(sizes(0), sizes(1));
    if (!b) refuse(n, "operands " + sizes_str(sizes(0)) + " and " + sizes_str(sizes(1)) + " do not broadcast");
    return b;
  }
  if (n.is(ir::TflOp::TRANSPOSE)) {
    auto perm = const_ints(input(1));
    if (!perm) return std::nullopt;
    Sizes s = sizes(0), out;
    if (perm->size() != s.size()) refuse(n, "permutation of the wrong length");
    for (int64_t p : *perm) {
      if (p < 0 || p >= static_cast<int64_t>(s.size())) refuse(n, "permutation index out of range");
      out.push_back(s[p]);
    }
    return out;
  }
  if (n.is(ir::TflOp::PAD) || n.is(ir::TflOp::PADV2) || n.is(ir::TflOp::MIRROR_PAD)) {
    auto pads = const_ints(input(1));
    if (!pads) return std::nullopt;
    Sizes s = sizes(0);
    if (pads->size() != 2 * s.size()) refuse(n, "paddings of the wrong shape");
    for (size_t i = 0; i < s.size(); ++i) {
      if ((*pads)[2 * i] < 0 || (*pads)[2 * i + 1] < 0) refuse(n, "negative padding");
      s[i] += (*pads)[2 * i] + (*pads)[2 * i + 1];
    }
    return s;
  }
  if (n.is(ir::TflOp::RESHAPE)) {
    if (ir::num_elements(input(0)->shape) != ir::num_elements(n.outputs[0]->shape))
      refuse(n, "reshapes " + sizes_str(sizes(0)) + " to " + ir::shape_to_string(n.outputs[0]->shape));
    return std::nullopt;
  }
  if (n.is(ir::TflOp::CONCATENATION)) {
    Sizes out = sizes(0);
    int64_t axis = n.get_int("axis");
    if (axis < 0) axis += static_cast<int64_t>(out.size());
    if (axis < 0 || axis >= static_cast<int64_t>(out.size())) refuse(n, "axis out of range");
    for (size_t i = 1; i < n.inputs.size(); ++i) {
      Sizes s = sizes(i);
      if (s.size() != out.size()) refuse(n, "inputs of different ranks");
      for (size_t d = 0; d < s.size(); ++d)
        if (static_cast<int64_t>(d) != axis && s[d] != out[d]) refuse(n, "inputs differ outside the axis");
      out[axis] += s[axis];
    }
    return out;
  }
  if ((n.is(ir::TflOp::CONV_2D) || n.is(ir::TflOp::DEPTHWISE_CONV_2D)) && input(1)) {
    Sizes x = sizes(0), w = sizes(1);
    if (x.size() != 4 || w.size() != 4) refuse(n, "input and filter must be 4-D");
    int64_t oc = n.is(ir::TflOp::CONV_2D) ? w[0] : w[3];
    if (n.is(ir::TflOp::CONV_2D) && (w[3] < 1 || x[3] % w[3] != 0)) refuse(n, "input channels do not match the filter");
    if (n.is(ir::TflOp::DEPTHWISE_CONV_2D) && (w[0] != 1 || x[3] < 1 || oc % x[3] != 0))
      refuse(n, "depthwise filter does not match the input channels");
    if (const Value* b = input(2); b && (b->rank() != 1 || b->shape[0].size != oc))
      refuse(n, "bias size differs from the output channels");
    return Sizes{x[0], window_out(n, x[1], w[1], n.get_int("stride_h"), n.get_int("dilation_h")),
                 window_out(n, x[2], w[2], n.get_int("stride_w"), n.get_int("dilation_w")), oc};
  }
  if (n.is(ir::TflOp::MAX_POOL_2D) || n.is(ir::TflOp::AVERAGE_POOL_2D)) {
    Sizes x = sizes(0);
    if (x.size() != 4) refuse(n, "input must be 4-D");
    return Sizes{x[0], window_out(n, x[1], n.get_int("filter_h"), n.get_int("stride_h"), 1),
                 window_out(n, x[2], n.get_int("filter_w"), n.get_int("stride_w"), 1), x[3]};
  }
  if (n.is(ir::TflOp::FULLY_CONNECTED) && input(1)) {
    Sizes x = sizes(0), w = sizes(1);
    if (w.size() != 2 || w[1] < 1) refuse(n, "weights must be 2-D");
    // The kernel flattens the input to [-1, w[1]] (drop_fc_flatten relies on it).
    if (ir::num_elements(input(0)->shape) % w[1] != 0)
      refuse(n, "input " + sizes_str(x) + " does not flatten to rows of the weights' " + std::to_string(w[1]));
    if (const Value* b = input(2); b && ir::num_elements(b->shape) != w[0])
      refuse(n, "bias size differs from the units");
    return std::nullopt;  // keep_num_dims decides the rank; the element count is checked below
  }
  return std::nullopt;
}

// An op that only moves elements (TRANSPOSE, RESHAPE, DEPTH_TO_SPACE, GATHER, ...) gives them the
// type they have: LiteRT's kernels refuse another output type at prepare (the replayed fuzz
// corpus found a pixel_shuffle declared float64 over a float32 input).
void check_moved_dtype(const Node& n) {
  if (!ir::moves_elements(n)) return;
  const size_t data = n.is(ir::TflOp::SPLIT) ? 1 : 0;  // SPLIT(axis, value)
  const Value* in = data < n.inputs.size() ? n.inputs[data] : nullptr;
  if (!in) return;
  auto differs = [&](const Value* v) {
    if (v && v->dtype != in->dtype)
      refuse(n, "tensor '" + v->name.substr(0, 80) + "' is " + std::string(ir::dtype_name(v->dtype)) +
                    " where the op moves " + std::string(ir::dtype_name(in->dtype)) + " elements");
  };
  for (const Value* out : n.outputs) differs(out);
  if (n.is(ir::TflOp::CONCATENATION))
    for (const Value* v : n.inputs) differs(v);
}

void check_graph(const ir::Graph& g) {
  for (const auto& v : g.values()) {
    for (const ir::Dim& d : v->shape)
      if (d.size < 0 || d.size > kMaxDim)
        throw ConversionError("the converted model would not load in LiteRT: tensor '" + v->name.substr(0, 80) +
                              "' has a dim out of range " + ir::shape_to_string(v->shape));
    if (v->is_const() && is_static(v.get())) {
      uint64_t want;
      const uint64_t elements = static_cast<uint64_t>(ir::num_elements(v->shape));
      const bool packed = v->dtype == ir::DType::kInt4;
      if (packed) want = (elements + 1) / 2;
      if ((!packed && __builtin_mul_overflow(elements, ir::dtype_size(v->dtype), &want)) ||
          want != v->data->bytes().size())
        throw ConversionError("the converted model would not load in LiteRT: constant '" + v->name.substr(0, 80) +
                              "' has " + std::to_string(v->data->bytes().size()) + " bytes for shape " +
                              ir::shape_to_string(v->shape));
    }
  }
  for (const auto& n : g.nodes()) {
    if (n->outputs.empty() || !n->outputs[0]) continue;
    check_moved_dtype(*n);
    std::optional<Sizes> want = computed_shape(*n);
    const Value* out = n->outputs[0];
    if (want && is_static(out) && *want != ir::sizes_of(out->shape))
      refuse(*n, "declared output shape " + ir::shape_to_string(out->shape) + " differs from the computed " +
                     sizes_str(*want));
  }
}

}  // namespace

void check_lowered_module(const ir::Module& module) {
  for (const auto& g : module.subgraphs) check_graph(*g);
}

bool flatbuffer_verifies(std::span<const uint8_t> bytes) {
  if (bytes.size() < 8 || !tflite::ModelBufferHasIdentifier(bytes.data())) return false;
  // Constants stored after the flatbuffer (external buffers) are outside what the Verifier walks.
  const size_t size = std::min<size_t>(bytes.size(), FLATBUFFERS_MAX_BUFFER_SIZE - 1);
  flatbuffers::Verifier verifier(bytes.data(), size, /*max_depth=*/128, /*max_tables=*/100000000);
  return tflite::VerifyModelBuffer(verifier);
}

void check_flatbuffer(std::span<const uint8_t> head) {
  PT2_CHECK(flatbuffer_verifies(head), "the written flatbuffer does not pass the flatbuffers Verifier");
}

}  // namespace pt2tflite::pipeline
