// A reference interpreter for the ATen ops that constants flow through (arange, sin/cos tables,
// masks, index arithmetic, dtype casts, views). passes/evaluate_constants.cc runs it on every
// node whose operands are all known at convert time. Values are held in double; every node's
// result is rounded to its own dtype, so a float32 chain rounds where PyTorch's does.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace pt2tflite::passes {

// A tensor known at convert time: row-major values, each exactly representable in `dtype`.
struct EvalTensor {
  ir::DType dtype = ir::DType::kFloat32;
  std::vector<int64_t> sizes;
  std::vector<double> values;
};
using EvalTensorPtr = std::shared_ptr<const EvalTensor>;

// The value of an operand, or nullptr when it is not known at convert time.
using EvalLookup = std::function<EvalTensorPtr(const ir::Value*)>;

// True when the interpreter has a kernel for `op` (an exact overload, "aten.sin.default").
bool can_evaluate(std::string_view op);
// Every op can_evaluate accepts, sorted (tools/gen_op_schemas.py gives each one a schema).
std::vector<std::string_view> evaluable_ops();
// True for ops that only move or repeat elements (view, permute, expand, ...): at the edge of a
// constant subgraph they are left to the lowering, which folds them into the layout it needs.
bool is_layout_op(std::string_view op);
// The result of the single-output node `n`, or nullopt when a variant is not handled (the node is
// then left for the lowering). Never approximates: a value that cannot be represented exactly in
// the interpreter (an int64 beyond 2^53) or an out-of-range index makes it decline.
std::optional<EvalTensor> evaluate(const ir::Node& n, const EvalLookup& lookup);

// True when an integer tensor holds an element PyTorch computed from a non-finite or out-of-range
// float (platform-defined): such a tensor is used only where a select discards those elements,
// and is never stored.
bool has_poison(const EvalTensor& t);
// The constant's values (any dtype but float16 / bfloat16), or nullptr when it cannot be read.
EvalTensorPtr read_constant(const ir::Value& v);
// `t` serialized in its dtype, as a constant's bytes.
std::vector<uint8_t> to_const_bytes(const EvalTensor& t);

}  // namespace pt2tflite::passes
