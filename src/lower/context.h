// What a lowering rule sees: the ATen node being lowered, and helpers to read its operands in
// the layout it wants, to emit TFLite ops, to fold constants, and to report what it cannot do.
//
// Layout lives in the binding from an ATen value to the lowered tensor that holds it: the same
// stored tensor read through a permute is another ATen value bound to it with another layout,
// so permutes cost nothing until some op needs a particular order.
#pragma once

#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "ir/layout.h"
#include "pt2tflite/convert.h"

namespace pt2tflite::lower {

// Lowering rules speak in layouts all the time; the permutation math is the IR's (ir/layout.h).
using ir::channels_last_perm;
using ir::identity_perm;
using ir::inverse;
using ir::is_identity;
using ir::normalized;
using ir::Perm;
using ir::physical_shape;
using ir::reshape_layout;
using ir::same_memory_order;
using ir::transpose_between;

class LowerCtx {
 public:
  LowerCtx(const ir::Graph& src, ir::Graph& dst, std::vector<Diagnostic>& diagnostics);

  // The ATen node being lowered (set by the driver).
  const ir::Node* node = nullptr;

  // The lowered tensor holding ATen value `v` stored in `layout` (empty = PyTorch order).
  // Constants are permuted at convert time; other values get one TRANSPOSE, cached per layout.
  ir::Value* get(const ir::Value* v, const Perm& layout = {});
  // The lowered tensor holding `v` in whatever layout it already has (see layout_of).
  ir::Value* get_any(const ir::Value* v);
  Perm layout_of(const ir::Value* v);
  // The constant behind `v` in PyTorch order (after folding), or nullptr if `v` is not constant.
  ir::Value* constant(const ir::Value* v);
  bool is_lowered(const ir::Value* v) const { return bound_.count(v) > 0; }
  // How many nodes (and graph outputs) of the ATen graph read `v`.
  int uses(const ir::Value* v) const;

  // Records that ATen value `aten` is held by lowered tensor `lowered`, stored in `layout`.
  void bind(const ir::Value* aten, ir::Value* lowered, const Perm& layout = {});
  // A new lowered tensor for ATen output `aten`, stored in `layout`, and bound to it.
  ir::Value* make_output(const ir::Value* aten, const Perm& layout = {});
  // A new intermediate tensor with the given stored shape.
  ir::Value* make_temp(ir::DType dtype, ir::Shape shape);
  // Appends TFLite op `op`, named after the ATen node, with the CASTs its LiteRT kernel needs
  // around it (lower/kernel_dtypes.h: int8 arithmetic runs in int32, a reduction's input takes its
  // output's dtype, ...). Returns the op itself, whatever it computes in.
  ir::Node* emit(ir::TflOp op, std::vector<ir::Value*> inputs, std::vector<ir::Value*> outputs);

  ir::Value* new_const(ir::DType dtype, ir::Shape shape, std::vector<uint8_t> bytes);
  ir::Value* const_f32(std::span<const float> values, const std::vector<int64_t>& shape);
  ir::Value* const_i32(std::span<const int32_t> values, const std::vector<int64_t>& shape);
  // A rank-0 constant of `dtype` holding `x` (saturated to an integer dtype's range, as a bound).
  ir::Value* scalar(ir::DType dtype, double x);
  // A rank-0 constant of `dtype` holding a Python scalar argument of the graph: an int is wrapped
  // into an integer dtype as PyTorch does (ir::wrap_int), so uint8 `x > -2` compares with 254.
  ir::Value* python_scalar(ir::DType dtype, const ir::Attr& scalar);

  // TRANSPOSE of `v` by `perm` (out dim i = in dim perm[i]); folded for constants.
  ir::Value* transpose(ir::Value* v, const Perm& perm);
  // RESHAPE of `v` to `shape`; folded for constants.
  ir::Value* reshape(ir::Value* v, const std::vector<int64_t>& shape);
  // SLICE of `v` over stored axis `axis`: elements [begin, begin + size), the other axes whole.
  ir::Value* slice(ir::Value* v, int axis, int64_t begin, int64_t size);
  // CAST of `v` to `dtype`; folded for constants, nothing when the dtype already matches or when
  // `v` is a quantized constant cast to float (it already stands for real values).
  ir::Value* cast(ir::Value* v, ir::DType dtype);

  // Dynamic shapes: an int32 [1] tensor holding the run-time size of the dynamic dim named `symbol`,
  // read with SHAPE from a model input that has a dim of that name (one SHAPE per symbol). nullptr,
  // with a diagnostic, when no input has it (a derived size such as 2·s).
  ir::Value* runtime_size(const std::string& symbol);
  // The dims named `symbol` have the run-time value `size` (an int32 [1] tensor): a scalar read
  // from a tensor with `.item()`, whose symbol then sizes slices.
  void define_runtime_size(const std::string& symbol, ir::Value* size) { runtime_sizes_[symbol] = size; }
  // An int32 [rank] tensor holding `shape` at run time: its static dims as constants, its dynamic
  // dims from runtime_size; nullptr (with a diagnostic) when one of them cannot be read.
  ir::Value* runtime_shape(const ir::Shape& shape);

  // RESHAPE of `v` to `shape` with dynamic dims: -1 for a single one, else a run-time shape tensor;
  // nullptr (with a diagnostic) when a size cannot be read.
  ir::Value* reshape_dynamic(ir::Value* v, const ir::Shape& shape);

  // Reports that the current node cannot be lowered; conversion continues to find every problem.
  void unsupported(const std::string& why);
  bool failed() const { return failed_; }
  ir::Graph& graph() { return dst_; }

 private:
  struct Binding {
    ir::Value* value;
    Perm layout;
  };
  const Binding& binding(const ir::Value* v);
  ir::Node* emit_as_is(ir::TflOp op, std::vector<ir::Value*> inputs, std::vector<ir::Value*> outputs);
  ir::Node* emit_cast(ir::Value* in, ir::Value* out);
  std::string name_for(const std::string& stem);

  const ir::Graph& src_;
  ir::Graph& dst_;
  std::vector<Diagnostic>& diagnostics_;
  std::map<std::string, ir::Value*> runtime_sizes_;
  std::unordered_map<const ir::Value*, Binding> bound_;
  std::unordered_map<const ir::Value*, int> uses_;
  std::map<std::pair<const ir::Value*, Perm>, ir::Value*> relayouts_;
  bool failed_ = false;
};

}  // namespace pt2tflite::lower
