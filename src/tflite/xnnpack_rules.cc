#include "tflite/xnnpack_rules.h"

#include <algorithm>
#include <set>

#include "schema_generated.h"

namespace pt2tflite::tflite_writer {
namespace {

using tflite::BuiltinOperator;
using tflite::TensorType;

// Builtins with a visitor in the delegate (formats.md §5.2), by name.
const std::set<std::string>& delegated_ops() {
  static const std::set<std::string> ops = {"ABS",
                                            "ADD",
                                            "ASSIGN_VARIABLE",
                                            "AVERAGE_POOL_2D",
                                            "BATCH_MATMUL",
                                            "CEIL",
                                            "CONCATENATION",
                                            "CONV_2D",
                                            "COS",
                                            "DEPTH_TO_SPACE",
                                            "DEPTHWISE_CONV_2D",
                                            "DEQUANTIZE",
                                            "DIV",
                                            "ELU",
                                            "EXP",
                                            "EXPAND_DIMS",
                                            "FLOOR",
                                            "FULLY_CONNECTED",
                                            "GELU",
                                            "HARD_SWISH",
                                            "LEAKY_RELU",
                                            "LOG",
                                            "LOGISTIC",
                                            "MAX_POOL_2D",
                                            "MAXIMUM",
                                            "MEAN",
                                            "SUM",
                                            "REDUCE_MAX",
                                            "REDUCE_MIN",
                                            "MINIMUM",
                                            "MUL",
                                            "NEG",
                                            "PAD",
                                            "PRELU",
                                            "QUANTIZE",
                                            "READ_VARIABLE",
                                            "RELU",
                                            "RELU6",
                                            "RELU_N1_TO_1",
                                            "RESHAPE",
                                            "RESIZE_BILINEAR",
                                            "ROUND",
                                            "RSQRT",
                                            "SIN",
                                            "SLICE",
                                            "SOFTMAX",
                                            "SPACE_TO_DEPTH",
                                            "SPLIT",
                                            "SQRT",
                                            "SQUARE",
                                            "SQUARED_DIFFERENCE",
                                            "STRIDED_SLICE",
                                            "SUB",
                                            "TANH",
                                            "TRANSPOSE",
                                            "TRANSPOSE_CONV",
                                            "VAR_HANDLE"};
  return ops;
}

class OpView {
 public:
  OpView(const tflite::Model& m, const tflite::SubGraph& g, const tflite::Operator& op) : m_(m), g_(g), op_(op) {}

  int num_inputs() const { return op_.inputs() ? static_cast<int>(op_.inputs()->size()) : 0; }
  // Input `i`'s tensor, or nullptr when it is omitted (-1) or missing.
  const tflite::Tensor* input(int i) const {
    if (i >= num_inputs() || op_.inputs()->Get(i) < 0) return nullptr;
    return g_.tensors()->Get(op_.inputs()->Get(i));
  }
  std::vector<const tflite::Tensor*> outputs() const {
    std::vector<const tflite::Tensor*> out;
    if (op_.outputs())
      for (int32_t t : *op_.outputs())
        if (t >= 0) out.push_back(g_.tensors()->Get(t));
    return out;
  }
  // A constant tensor has data in its buffer (the delegate's kTfLiteMmapRo).
  bool is_static(const tflite::Tensor* t) const {
    if (!t || t->buffer() == 0 || !m_.buffers() || t->buffer() >= m_.buffers()->size()) return false;
    const tflite::Buffer* b = m_.buffers()->Get(t->buffer());
    return (b->data() && b->data()->size() > 0) || b->offset() > 1;
  }
  // The int32 values of a constant tensor stored inside the flatbuffer.
  std::vector<int32_t> ints(const tflite::Tensor* t) const {
    const tflite::Buffer* b = m_.buffers()->Get(t->buffer());
    if (t->type() != TensorType::TensorType_INT32 || !b->data()) return {};
    const auto* p = reinterpret_cast<const int32_t*>(b->data()->data());
    return {p, p + b->data()->size() / 4};
  }
  const tflite::Operator& op() const { return op_; }
  int version() const { return m_.operator_codes()->Get(op_.opcode_index())->version(); }

 private:
  const tflite::Model& m_;
  const tflite::SubGraph& g_;
  const tflite::Operator& op_;
};

// Activations the delegate computes: float32, or int8 / uint8 quantized per tensor.
std::string check_activation(const tflite::Tensor* t, const char* what) {
  const std::string name = std::string(what) + " tensor";
  switch (t->type()) {
    case TensorType::TensorType_FLOAT32: break;
    case TensorType::TensorType_INT8:
    case TensorType::TensorType_UINT8: {
      const tflite::QuantizationParameters* q = t->quantization();
      if (!q || !q->scale() || q->scale()->size() != 1 || q->quantized_dimension() != 0)
        return name + " is quantized per channel; quantized activations must be per tensor";
      break;
    }
    default:
      return name + " has type " + std::string(tflite::EnumNameTensorType(t->type())) + "; only float32 and int8/uint8";
  }
  if (t->shape() && t->shape()->size() > 6) return name + " has rank > 6";
  return "";
}

std::string check_conv_like(const OpView& v, int filter, int bias) {
  if (!v.is_static(v.input(filter))) return "filter is not a constant";
  if (!v.input(bias)) return "no bias (the delegate requires one; pt2tflite adds a zero bias)";
  if (!v.is_static(v.input(bias))) return "bias is not a constant";
  return "";
}

std::string check_pool(const OpView& v) {
  const auto* o = v.op().builtin_options_as_Pool2DOptions();
  if (!o) return "missing Pool2DOptions";
  if (o->filter_width() == 1 && o->filter_height() == 1 && std::max(o->stride_w(), o->stride_h()) > 1)
    return "1x1 pooling with stride > 1";
  return "";
}

}  // namespace

std::string xnnpack_refusal(const tflite::Model& model, const tflite::SubGraph& graph, const tflite::Operator& op) {
  const OpView v(model, graph, op);
  const tflite::OperatorCode* code = model.operator_codes()->Get(op.opcode_index());
  const auto builtin =
      static_cast<BuiltinOperator>(std::max<int>(code->builtin_code(), code->deprecated_builtin_code()));
  const std::string name = tflite::EnumNameBuiltinOperator(builtin);
  if (builtin == BuiltinOperator::BuiltinOperator_CUSTOM) return "custom op";
  if (!delegated_ops().count(name)) return (name.empty() ? "this builtin" : name) + " is not in the delegate's op list";

  // Data operands must be delegate-computable activations (or constants, which it packs).
  const bool quantize_op = name == "QUANTIZE" || name == "DEQUANTIZE";
  for (const tflite::Tensor* t : v.outputs())
    if (std::string why = check_activation(t, "output"); !why.empty() && !quantize_op) return why;

  if (name == "CONV_2D" || name == "DEPTHWISE_CONV_2D") {
    if (const tflite::Tensor* x = v.input(0); x->shape() && x->shape()->size() != 4) return "input is not 4-D";
    return check_conv_like(v, 1, 2);
  }
  if (name == "TRANSPOSE_CONV") {
    if (!v.is_static(v.input(0))) return "output shape is not a constant";
    if (!v.is_static(v.input(1))) return "filter is not a constant";
    if (v.input(3) && !v.is_static(v.input(3))) return "bias is not a constant";
    return "";
  }
  if (name == "FULLY_CONNECTED") {
    if (v.version() == 8) return "FULLY_CONNECTED version 8";
    if (!v.is_static(v.input(1))) return "filter is not a constant (dynamic FC is off by default)";
    if (v.input(2) && !v.is_static(v.input(2))) return "bias is not a constant";
    const auto* o = op.builtin_options_as_FullyConnectedOptions();
    if (o && o->weights_format() != tflite::FullyConnectedOptionsWeightsFormat_DEFAULT)
      return "non-default weights format";
    return "";
  }
  if (name == "AVERAGE_POOL_2D" || name == "MAX_POOL_2D") return check_pool(v);
  if (name == "SOFTMAX") {
    const auto* o = op.builtin_options_as_SoftmaxOptions();
    if (!o || o->beta() != 1.0f) return "beta != 1";
    return "";
  }
  if (name == "STRIDED_SLICE") {
    for (int i = 1; i <= 3; ++i)
      if (!v.is_static(v.input(i))) return "begin/end/strides are not constants";
    const auto strides = v.ints(v.input(3));
    if (std::any_of(strides.begin(), strides.end(), [](int32_t s) { return s != 1; })) return "a stride other than 1";
    const auto* o = op.builtin_options_as_StridedSliceOptions();
    if (o && (o->ellipsis_mask() || o->new_axis_mask() || o->shrink_axis_mask()))
      return "ellipsis, new-axis or shrink mask";
    return "";
  }
  if (name == "SLICE") {
    if (!v.is_static(v.input(1)) || !v.is_static(v.input(2))) return "begin/size are not constants";
    const auto size = v.ints(v.input(2));
    if (std::any_of(size.begin(), size.end(), [](int32_t s) { return s < 0; })) return "a size of -1";
    return "";
  }
  if (name == "RESHAPE") {
    const auto* o = op.builtin_options_as_ReshapeOptions();
    if (v.num_inputs() > 1 && v.input(1) && !v.is_static(v.input(1))) return "shape is not a constant";
    if (v.num_inputs() < 2 && !(o && o->new_shape())) return "no static shape";
    return "";
  }
  if (name == "PAD" || name == "TRANSPOSE") {
    if (!v.is_static(v.input(1)))
      return (name == "PAD" ? "paddings" : "permutation") + std::string(" are not constants");
    return "";
  }
  if (name == "MEAN" || name == "SUM" || name == "REDUCE_MAX" || name == "REDUCE_MIN") {
    if (!v.is_static(v.input(1)) || v.input(1)->type() != TensorType::TensorType_INT32)
      return "axes are not constant int32";
    return "";
  }
  if (name == "SPLIT") {
    if (!v.is_static(v.input(0))) return "axis is not a constant";
    return "";
  }
  if (name == "RESIZE_BILINEAR") {
    if (!v.is_static(v.input(1))) return "size is not a constant";
    return "";
  }
  return "";
}

}  // namespace pt2tflite::tflite_writer
