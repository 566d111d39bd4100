// The dtypes LiteRT's builtin kernels compute in, for the ops whose support is partial.
//
// PyTorch computes in any integer dtype; LiteRT's kernels mostly do not. An int8, uint8 or int16
// tensor without quantization parameters is read as quantized with scale 0 (an ADD aborts the
// process, a MUL or RELU writes zeros), bool is refused by arithmetic, a reduction writes its
// input's dtype into whatever its output is declared as, and float math refuses integers.
// LowerCtx::emit asks this table about every op it emits and adds the CASTs that make the op one
// the kernels run (tests/python/test_integer_dtypes.py checks each against PyTorch).
#pragma once

#include "ir/dtype.h"
#include "ir/tfl_op.h"

namespace pt2tflite::lower {

enum class KernelTyping {
  kAny,        // any dtype the lowering gives (data movement, CAST, SELECT_V2, ...)
  kSameType,   // the data inputs and the output share one dtype: float32, int32 or int64
  kCompare,    // two operands of one dtype (float32, int32 or int64), a bool output
  kFloatMath,  // floating-point input only (EXP, LOG, TANH, ...)
  kRelu,       // RELU / RELU6 / RELU_N1_TO_1: float or quantized only; integers need MAXIMUM/MINIMUM
  kArgReduce,  // ARG_MAX / ARG_MIN: float32, int8, uint8, int32 or bool input
  kNoBool,     // moves elements of any dtype but bool (SPLIT: its tensor is input 1, after the axis)
};

struct KernelDtypes {
  KernelTyping typing = KernelTyping::kAny;
  int data_inputs = 0;  // the leading inputs the typing applies to (not axes or perms)
};

KernelDtypes kernel_dtypes(ir::TflOp op);

// The dtype a kSameType or kCompare kernel computes a non-quantized `t` in: int32 for int8,
// uint8, int16 and bool (exact, and a CAST back wraps as PyTorch's narrow arithmetic does), `t`
// itself otherwise.
ir::DType widened(ir::DType t);

}  // namespace pt2tflite::lower
