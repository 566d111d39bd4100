#include "tflite/op_options.h"

#include "ir/tfl_op.h"

#include "util/check.h"

namespace pt2tflite::tflite_writer {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

tflite::ActivationFunctionType act(const ir::Node& n) {
  const ir::Activation a = ir::fused_activation(n);
  if (a == ir::Activation::NONE) return tflite::ActivationFunctionType_NONE;
  // A kernel that ignores or refuses the activation would give a wrong answer or no model.
  PT2_CHECK(ir::accepts_fused_activation(n), "fused activation " << ir::activation_name(a) << " on " << n.op
                                                                 << " (node " << n.name
                                                                 << "), whose kernels do not apply it");
  switch (a) {
    case ir::Activation::RELU: return tflite::ActivationFunctionType_RELU;
    case ir::Activation::RELU6: return tflite::ActivationFunctionType_RELU6;
    case ir::Activation::RELU_N1_TO_1: return tflite::ActivationFunctionType_RELU_N1_TO_1;
    case ir::Activation::TANH: return tflite::ActivationFunctionType_TANH;
    case ir::Activation::NONE: break;
  }
  PT2_CHECK(false, "unhandled fused activation");
}

tflite::Padding tfl_padding(const ir::Node& n) {
  return ir::padding(n) == ir::Padding::SAME ? tflite::Padding_SAME : tflite::Padding_VALID;
}

int32_t i32(const ir::Node& n, std::string_view k) { return static_cast<int32_t>(n.get_int(k)); }
bool flag(const ir::Node& n, std::string_view k) { return n.find(k) && n.get_bool(k); }

// One builder per options table named in ir/tfl_ops.inc.
Offset<void> build_NONE(FlatBufferBuilder&, const ir::Node&) { return 0; }
Offset<void> build_AddOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateAddOptions(b, act(n)).Union();
}
Offset<void> build_SubOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateSubOptions(b, act(n)).Union();
}
Offset<void> build_MulOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateMulOptions(b, act(n)).Union();
}
Offset<void> build_DivOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateDivOptions(b, act(n)).Union();
}
Offset<void> build_Pool2DOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreatePool2DOptions(b, tfl_padding(n), i32(n, "stride_w"), i32(n, "stride_h"), i32(n, "filter_w"),
                                     i32(n, "filter_h"), act(n))
      .Union();
}
Offset<void> build_Conv2DOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateConv2DOptions(b, tfl_padding(n), i32(n, "stride_w"), i32(n, "stride_h"), act(n),
                                     i32(n, "dilation_w"), i32(n, "dilation_h"))
      .Union();
}
Offset<void> build_DepthwiseConv2DOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateDepthwiseConv2DOptions(b, tfl_padding(n), i32(n, "stride_w"), i32(n, "stride_h"),
                                              i32(n, "depth_multiplier"), act(n), i32(n, "dilation_w"),
                                              i32(n, "dilation_h"))
      .Union();
}
Offset<void> build_FullyConnectedOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateFullyConnectedOptions(b, act(n), tflite::FullyConnectedOptionsWeightsFormat_DEFAULT,
                                             flag(n, "keep_num_dims"))
      .Union();
}
Offset<void> build_BatchMatMulOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateBatchMatMulOptions(b, flag(n, "adj_x"), flag(n, "adj_y")).Union();
}
Offset<void> build_SoftmaxOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateSoftmaxOptions(b, static_cast<float>(n.get_float("beta"))).Union();
}
Offset<void> build_ConcatenationOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateConcatenationOptions(b, i32(n, "axis"), act(n)).Union();
}
Offset<void> build_ReducerOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateReducerOptions(b, flag(n, "keep_dims")).Union();
}
Offset<void> build_GeluOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateGeluOptions(b, flag(n, "approximate")).Union();
}
// Options tables without fields: the table must still be present, with the op's union type.
#define PT2_EMPTY_OPTIONS(OPT) \
  Offset<void> build_##OPT(FlatBufferBuilder& b, const ir::Node&) { return tflite::Create##OPT(b).Union(); }
PT2_EMPTY_OPTIONS(AbsOptions)
PT2_EMPTY_OPTIONS(BroadcastToOptions)
PT2_EMPTY_OPTIONS(DequantizeOptions)
PT2_EMPTY_OPTIONS(EqualOptions)
PT2_EMPTY_OPTIONS(ExpOptions)
PT2_EMPTY_OPTIONS(FloorDivOptions)
PT2_EMPTY_OPTIONS(FloorModOptions)
PT2_EMPTY_OPTIONS(RangeOptions)
PT2_EMPTY_OPTIONS(GatherNdOptions)
PT2_EMPTY_OPTIONS(GreaterEqualOptions)
PT2_EMPTY_OPTIONS(GreaterOptions)
PT2_EMPTY_OPTIONS(HardSwishOptions)
PT2_EMPTY_OPTIONS(LessEqualOptions)
PT2_EMPTY_OPTIONS(LessOptions)
PT2_EMPTY_OPTIONS(LogSoftmaxOptions)
PT2_EMPTY_OPTIONS(LogicalAndOptions)
PT2_EMPTY_OPTIONS(LogicalNotOptions)
PT2_EMPTY_OPTIONS(LogicalOrOptions)
PT2_EMPTY_OPTIONS(MaximumMinimumOptions)
PT2_EMPTY_OPTIONS(NegOptions)
PT2_EMPTY_OPTIONS(NotEqualOptions)
PT2_EMPTY_OPTIONS(PadOptions)
PT2_EMPTY_OPTIONS(PadV2Options)
PT2_EMPTY_OPTIONS(PowOptions)
PT2_EMPTY_OPTIONS(QuantizeOptions)
PT2_EMPTY_OPTIONS(ReverseV2Options)
PT2_EMPTY_OPTIONS(ScatterNdOptions)
PT2_EMPTY_OPTIONS(SelectV2Options)
PT2_EMPTY_OPTIONS(SliceOptions)
PT2_EMPTY_OPTIONS(TileOptions)
PT2_EMPTY_OPTIONS(TopKV2Options)
PT2_EMPTY_OPTIONS(TransposeOptions)
#undef PT2_EMPTY_OPTIONS
Offset<void> build_ReshapeOptions(FlatBufferBuilder& b, const ir::Node&) {
  return tflite::CreateReshapeOptions(b).Union();  // the shape is the second input
}
Offset<void> build_LeakyReluOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateLeakyReluOptions(b, static_cast<float>(n.get_float("alpha"))).Union();
}
Offset<void> build_ArgMaxOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateArgMaxOptions(b, tensor_type(static_cast<ir::DType>(n.get_int("output_type")))).Union();
}
Offset<void> build_ShapeOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateShapeOptions(b, tensor_type(static_cast<ir::DType>(n.get_int("out_type")))).Union();
}
Offset<void> build_ArgMinOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateArgMinOptions(b, tensor_type(static_cast<ir::DType>(n.get_int("output_type")))).Union();
}
Offset<void> build_GatherOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateGatherOptions(b, i32(n, "axis"), 0).Union();
}
Offset<void> build_SplitOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateSplitOptions(b, i32(n, "num_splits")).Union();
}
Offset<void> build_StridedSliceOptions(FlatBufferBuilder& b, const ir::Node&) {
  return tflite::CreateStridedSliceOptions(b).Union();  // no masks: begin/end/strides are explicit
}
Offset<void> build_MirrorPadOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateMirrorPadOptions(
             b, n.get_string("mode") == "SYMMETRIC" ? tflite::MirrorPadMode_SYMMETRIC : tflite::MirrorPadMode_REFLECT)
      .Union();
}
Offset<void> build_ResizeBilinearOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateResizeBilinearOptions(b, flag(n, "align_corners"), flag(n, "half_pixel_centers")).Union();
}
Offset<void> build_ResizeNearestNeighborOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateResizeNearestNeighborOptions(b, flag(n, "align_corners"), flag(n, "half_pixel_centers")).Union();
}
Offset<void> build_DepthToSpaceOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateDepthToSpaceOptions(b, i32(n, "block_size")).Union();
}
Offset<void> build_CumsumOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateCumsumOptions(b, flag(n, "exclusive"), flag(n, "reverse")).Union();
}
Offset<void> build_TransposeConvOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateTransposeConvOptions(b, tfl_padding(n), i32(n, "stride_w"), i32(n, "stride_h"), act(n)).Union();
}
Offset<void> build_CastOptions(FlatBufferBuilder& b, const ir::Node& n) {
  return tflite::CreateCastOptions(b, tensor_type(static_cast<ir::DType>(n.get_int("in_data_type"))),
                                   tensor_type(static_cast<ir::DType>(n.get_int("out_data_type"))))
      .Union();
}

}  // namespace

tflite::TensorType tensor_type(ir::DType dtype) {
  switch (dtype) {
    case ir::DType::kFloat32: return tflite::TensorType_FLOAT32;
    case ir::DType::kFloat16: return tflite::TensorType_FLOAT16;
    case ir::DType::kBFloat16: return tflite::TensorType_BFLOAT16;
    case ir::DType::kFloat64: return tflite::TensorType_FLOAT64;
    case ir::DType::kInt8: return tflite::TensorType_INT8;
    case ir::DType::kUInt8: return tflite::TensorType_UINT8;
    case ir::DType::kInt16: return tflite::TensorType_INT16;
    case ir::DType::kInt32: return tflite::TensorType_INT32;
    case ir::DType::kInt64: return tflite::TensorType_INT64;
    case ir::DType::kBool: return tflite::TensorType_BOOL;
    case ir::DType::kInt4: return tflite::TensorType_INT4;
  }
  PT2_CHECK(false, "unhandled dtype");
}

BuiltinOp build_builtin_op(FlatBufferBuilder& fbb, const ir::Node& n) {
  const std::optional<ir::TflOp> op = ir::tfl_op(n);
  PT2_CHECK(op, "node " << n.name << " (" << n.op << ") was not lowered");
  switch (*op) {
#define PT2_TFL_OP(NAME, OPT, ELEMENTWISE, LAYOUT, FUSED, INT8, ARENA) \
  case ir::TflOp::NAME:                                                \
    return {tflite::BuiltinOperator_##NAME, tflite::BuiltinOptions_##OPT, build_##OPT(fbb, n)};
#include "ir/tfl_ops.inc"
#undef PT2_TFL_OP
  }
  PT2_CHECK(false, "TFLite op " << n.op << " is missing from ir/tfl_ops.inc");
}

int op_version(const ir::Node& n, tflite::BuiltinOperator code) {
  // Versions from TFLite's op-versioning rules (tools/versioning/op_version.cc) for the features
  // we use; float ops are v1. The activation is input 0, except for TRANSPOSE_CONV (input 2).
  const ir::Value* in = n.inputs.empty() ? nullptr : n.inputs[code == tflite::BuiltinOperator_TRANSPOSE_CONV ? 2 : 0];
  const bool int8 = in && in->dtype == ir::DType::kInt8;
  const ir::Value* w = n.inputs.size() > 1 ? n.inputs[1] : nullptr;
  const bool int8_weights = w && w->dtype == ir::DType::kInt8;
  const bool per_channel = in && in->quant && in->quant->scale.size() > 1;
  switch (code) {
    case tflite::BuiltinOperator_CONV_2D: {
      if (in->shape.back().size != w->shape.back().size) return 6;  // grouped
      // Float input with int8 weights is the dynamic-range ("hybrid") kernel; 5 when per channel.
      if (!int8 && int8_weights) return w->quant && w->quant->scale.size() > 1 ? 5 : 2;
      return int8 ? 3 : 1;
    }
    case tflite::BuiltinOperator_EMBEDDING_LOOKUP: {
      const ir::Value* table = n.inputs.at(1);
      const bool per_row = table->quant && (table->quant->blockwise || table->quant->scale.size() > 1);
      return table->dtype == ir::DType::kInt4 || per_row ? 4 : 1;
    }
    case tflite::BuiltinOperator_DEPTHWISE_CONV_2D: return int8 ? 3 : 1;
    case tflite::BuiltinOperator_BROADCAST_TO: return 2;  // the op was introduced at version 2
    case tflite::BuiltinOperator_TRANSPOSE_CONV:
      if (n.inputs.size() > 3 && n.inputs[3]) return 3;  // bias input
      return int8_weights ? 2 : 1;
    case tflite::BuiltinOperator_FULLY_CONNECTED:
      // Float input with int8 weights is the dynamic-range ("hybrid") kernel; per-channel needs 12.
      if (!int8 && int8_weights)
        return w->quant && w->quant->scale.size() > 1 ? 12 : (flag(n, "keep_num_dims") ? 5 : 3);
      if (flag(n, "keep_num_dims")) return 5;  // also float input with int4 weights (no rule of its own)
      return int8 ? 4 : 1;
    case tflite::BuiltinOperator_DEQUANTIZE:
      if (in->dtype == ir::DType::kFloat16) return 3;
      return int8 ? (per_channel ? 5 : 2) : 1;
    // QUANTIZE to int8, from float or int8 (requantization), is version 1; 2 means int16 output.
    case tflite::BuiltinOperator_QUANTIZE: return 1;
    case tflite::BuiltinOperator_ADD:
    case tflite::BuiltinOperator_MUL:
    case tflite::BuiltinOperator_SUB:
    case tflite::BuiltinOperator_AVERAGE_POOL_2D:
    case tflite::BuiltinOperator_MAX_POOL_2D:
    case tflite::BuiltinOperator_CONCATENATION:
    case tflite::BuiltinOperator_SOFTMAX:
    case tflite::BuiltinOperator_LOGISTIC:
    case tflite::BuiltinOperator_TANH:
    case tflite::BuiltinOperator_MEAN:
    case tflite::BuiltinOperator_PAD:
    case tflite::BuiltinOperator_SLICE:
    case tflite::BuiltinOperator_STRIDED_SLICE:
    case tflite::BuiltinOperator_LEAKY_RELU:
    case tflite::BuiltinOperator_RELU:
    case tflite::BuiltinOperator_RELU6:
    case tflite::BuiltinOperator_TRANSPOSE: return int8 ? 2 : 1;
    default: return 1;
  }
}

}  // namespace pt2tflite::tflite_writer
