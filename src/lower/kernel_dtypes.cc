#include "lower/kernel_dtypes.h"

namespace pt2tflite::lower {

KernelDtypes kernel_dtypes(ir::TflOp op) {
  using ir::TflOp;
  switch (op) {
    case TflOp::ADD:
    case TflOp::SUB:
    case TflOp::MUL:
    case TflOp::DIV:
    case TflOp::MAXIMUM:
    case TflOp::MINIMUM:
    case TflOp::FLOOR_DIV:
    case TflOp::FLOOR_MOD:
    case TflOp::POW: return {KernelTyping::kSameType, 2};
    case TflOp::NEG:
    case TflOp::ABS:
    case TflOp::SIGN:
    case TflOp::SUM:
    case TflOp::MEAN:
    case TflOp::REDUCE_MAX:
    case TflOp::REDUCE_MIN:
    case TflOp::CUMSUM: return {KernelTyping::kSameType, 1};
    case TflOp::EQUAL:
    case TflOp::NOT_EQUAL:
    case TflOp::LESS:
    case TflOp::LESS_EQUAL:
    case TflOp::GREATER:
    case TflOp::GREATER_EQUAL: return {KernelTyping::kCompare, 2};
    case TflOp::EXP:
    case TflOp::LOG:
    case TflOp::SIN:
    case TflOp::COS:
    case TflOp::SQRT:
    case TflOp::RSQRT:
    case TflOp::TANH:
    case TflOp::LOGISTIC:
    case TflOp::GELU:
    case TflOp::ELU:
    case TflOp::HARD_SWISH:
    case TflOp::LEAKY_RELU:
    case TflOp::CEIL:
    case TflOp::FLOOR:
    case TflOp::ROUND:
    case TflOp::SOFTMAX:
    case TflOp::LOG_SOFTMAX: return {KernelTyping::kFloatMath, 1};
    case TflOp::RELU:
    case TflOp::RELU6:
    case TflOp::RELU_N1_TO_1: return {KernelTyping::kRelu, 1};
    case TflOp::SPLIT: return {KernelTyping::kNoBool, 0};
    case TflOp::ARG_MAX:
    case TflOp::ARG_MIN: return {KernelTyping::kArgReduce, 1};
    default: return {};
  }
}

ir::DType widened(ir::DType t) {
  switch (t) {
    case ir::DType::kInt8:
    case ir::DType::kUInt8:
    case ir::DType::kInt16:
    case ir::DType::kBool: return ir::DType::kInt32;
    default: return t;
  }
}

}  // namespace pt2tflite::lower
