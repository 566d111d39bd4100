#include "lower/context.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

#include "ir/constants.h"
#include "lower/kernel_dtypes.h"
#include "util/check.h"

namespace pt2tflite::lower {

LowerCtx::LowerCtx(const ir::Graph& src, ir::Graph& dst, std::vector<Diagnostic>& diagnostics)
    : src_(src), dst_(dst), diagnostics_(diagnostics) {
  for (const auto& n : src.nodes())
    for (const ir::Value* v : n->operands()) ++uses_[v];
  for (const ir::Value* v : src.outputs) ++uses_[v];
}

std::string LowerCtx::name_for(const std::string& stem) { return dst_.unique_name(stem); }

int LowerCtx::uses(const ir::Value* v) const {
  auto it = uses_.find(v);
  return it == uses_.end() ? 0 : it->second;
}

const LowerCtx::Binding& LowerCtx::binding(const ir::Value* v) {
  auto it = bound_.find(v);
  if (it != bound_.end()) return it->second;
  PT2_CHECK(v->is_const(), "value " << v->name << " is used before it is computed");
  // Borrow the archive bytes: the constant is not copied until the writer emits it.
  ir::Value* c = dst_.add_const(v->name, v->dtype, v->shape, *v->data);
  return bound_[v] = Binding{c, {}};
}

ir::Value* LowerCtx::get_any(const ir::Value* v) { return binding(v).value; }
Perm LowerCtx::layout_of(const ir::Value* v) { return binding(v).layout; }

ir::Value* LowerCtx::constant(const ir::Value* v) {
  if (!get_any(v)->is_const()) return nullptr;
  return get(v, {});
}

ir::Value* LowerCtx::get(const ir::Value* v, const Perm& layout_in) {
  const Binding& b = binding(v);
  Perm want = normalized(layout_in, v->rank());
  if (b.layout == want) return b.value;
  auto key = std::make_pair(v, want);
  if (auto it = relayouts_.find(key); it != relayouts_.end()) return it->second;
  ir::Value* t = transpose(b.value, transpose_between(b.layout, want, v->rank()));
  relayouts_[key] = t;
  return t;
}

void LowerCtx::bind(const ir::Value* aten, ir::Value* lowered, const Perm& layout) {
  if (aten) bound_[aten] = Binding{lowered, normalized(layout, aten->rank())};
}

ir::Value* LowerCtx::make_output(const ir::Value* aten, const Perm& layout) {
  Perm l = normalized(layout, aten->rank());
  ir::Value* v = dst_.add_value(aten->name, aten->dtype, physical_shape(aten->shape, l));
  bind(aten, v, l);
  return v;
}

ir::Value* LowerCtx::make_temp(ir::DType dtype, ir::Shape shape) {
  return dst_.add_value(name_for(node ? node->name : "tmp"), dtype, std::move(shape));
}

ir::Node* LowerCtx::emit(ir::TflOp op, std::vector<ir::Value*> inputs, std::vector<ir::Value*> outputs) {
  const KernelDtypes k = kernel_dtypes(op);
  if (k.typing == KernelTyping::kNoBool && inputs.size() == 2 && inputs[1] && inputs[1]->dtype == ir::DType::kBool) {
    // Split the values as int32 and cast each piece back.
    inputs[1] = cast(inputs[1], ir::DType::kInt32);
    std::vector<ir::Value*> wide;
    for (const ir::Value* o : outputs) wide.push_back(o ? make_temp(ir::DType::kInt32, o->shape) : nullptr);
    ir::Node* n = emit_as_is(op, std::move(inputs), wide);
    for (size_t i = 0; i < outputs.size(); ++i)
      if (outputs[i]) emit_cast(wide[i], outputs[i]);
    return n;
  }
  const auto absent_or_quantized = [](const ir::Value* v) { return !v || v->quant.has_value(); };
  const size_t data = std::min(inputs.size(), static_cast<size_t>(k.data_inputs));
  ir::Value* out = outputs.empty() ? nullptr : outputs[0];
  // Quantized tensors are the int8 kernels' own business (passes/fold_qdq.cc).
  if (k.typing == KernelTyping::kAny || !out || out->quant ||
      std::any_of(inputs.begin(), inputs.begin() + data, absent_or_quantized))
    return emit_as_is(op, std::move(inputs), std::move(outputs));
  const ir::DType in = inputs[0]->dtype;
  switch (k.typing) {
    case KernelTyping::kSameType: {
      const ir::DType compute = widened(out->dtype);
      for (size_t i = 0; i < data; ++i) inputs[i] = cast(inputs[i], compute);
      if (compute == out->dtype) break;
      outputs[0] = make_temp(compute, out->shape);
      ir::Node* n = emit_as_is(op, std::move(inputs), outputs);
      emit_cast(outputs[0], out);
      return n;
    }
    case KernelTyping::kCompare: {
      if (data < 2 || ir::is_floating(in) || ir::is_floating(inputs[1]->dtype)) break;
      const bool wide = in == ir::DType::kInt64 || inputs[1]->dtype == ir::DType::kInt64;
      const ir::DType compute = wide ? ir::DType::kInt64 : widened(in);
      for (size_t i = 0; i < data; ++i) inputs[i] = cast(inputs[i], compute);
      break;
    }
    case KernelTyping::kFloatMath:
      if (ir::is_floating(in)) break;
      // PyTorch promotes an integer input of float math (torch.exp of an int64 tensor is float).
      if (ir::is_floating(out->dtype))
        inputs[0] = cast(inputs[0], out->dtype);
      else
        unsupported(std::string(ir::builtin_name(op)) + " computes in floating point only; here it would give " +
                    std::string(ir::dtype_name(out->dtype)) + " from " + std::string(ir::dtype_name(in)));
      break;
    case KernelTyping::kRelu: {
      if (ir::is_floating(in)) break;
      // The kernels read an integer tensor as quantized: clamp with MAXIMUM / MINIMUM instead.
      const double lo = op == ir::TflOp::RELU_N1_TO_1 ? -1 : 0;
      if (op == ir::TflOp::RELU) return emit(ir::TflOp::MAXIMUM, {inputs[0], scalar(in, lo)}, {out});
      ir::Value* floor = make_temp(out->dtype, out->shape);
      ir::Node* n = emit(ir::TflOp::MAXIMUM, {inputs[0], scalar(in, lo)}, {floor});
      emit(ir::TflOp::MINIMUM, {floor, scalar(out->dtype, op == ir::TflOp::RELU6 ? 6 : 1)}, {out});
      return n;
    }
    case KernelTyping::kArgReduce:
      if (in == ir::DType::kInt16) inputs[0] = cast(inputs[0], ir::DType::kInt32);
      if (in == ir::DType::kInt64)
        unsupported(std::string(ir::builtin_name(op)) +
                    " has no int64 kernel in LiteRT; cast the tensor to int32 or float in the model");
      break;
    case KernelTyping::kAny:
    case KernelTyping::kNoBool: break;
  }
  return emit_as_is(op, std::move(inputs), std::move(outputs));
}

ir::Node* LowerCtx::emit_as_is(ir::TflOp op, std::vector<ir::Value*> inputs, std::vector<ir::Value*> outputs) {
  ir::Node* n = dst_.add_node(op, name_for(node ? node->name : std::string(ir::builtin_name(op))), std::move(inputs),
                              std::move(outputs));
  if (node) n->source = node->source;
  return n;
}

ir::Value* LowerCtx::new_const(ir::DType dtype, ir::Shape shape, std::vector<uint8_t> bytes) {
  return dst_.add_const(name_for(node ? node->name + "_const" : "const"), dtype, std::move(shape),
                        ir::ConstData::own(std::move(bytes)));
}

ir::Value* LowerCtx::const_f32(std::span<const float> values, const std::vector<int64_t>& shape) {
  return new_const(ir::DType::kFloat32, ir::static_shape(shape), ir::to_bytes(values));
}

ir::Value* LowerCtx::const_i32(std::span<const int32_t> values, const std::vector<int64_t>& shape) {
  return new_const(ir::DType::kInt32, ir::static_shape(shape), ir::to_bytes(values));
}

// `x` saturated to an integer `dtype`'s range: -inf is that dtype's lowest value (max pooling's
// padding), as a clamp bound past the range is its end. Truncating to the narrow dtype instead
// turned -inf into 0 in int8 and int16 (a silent wrong answer at the border of a max pool).
static int64_t saturating_integer(double x, ir::DType dtype) {
  const int64_t v = ir::saturating_int64(x);
  switch (dtype) {
    case ir::DType::kInt8: return std::clamp<int64_t>(v, INT8_MIN, INT8_MAX);
    case ir::DType::kUInt8: return std::clamp<int64_t>(v, 0, UINT8_MAX);
    case ir::DType::kInt16: return std::clamp<int64_t>(v, INT16_MIN, INT16_MAX);
    case ir::DType::kInt32: return std::clamp<int64_t>(v, INT32_MIN, INT32_MAX);
    case ir::DType::kBool: return v != 0;
    default: return v;
  }
}

ir::Value* LowerCtx::scalar(ir::DType dtype, double x) {
  float f = ir::saturating_float(x);
  std::vector<uint8_t> bytes = ir::is_floating(dtype)
                                   ? ir::from_float_vector(std::span<const float>(&f, 1), dtype)
                                   : ir::from_int_vector(std::vector<int64_t>{saturating_integer(x, dtype)}, dtype);
  return new_const(dtype, {}, std::move(bytes));
}

ir::Value* LowerCtx::python_scalar(ir::DType dtype, const ir::Attr& scalar) {
  if (const auto* i = std::get_if<int64_t>(&scalar); i && !ir::is_floating(dtype))
    return new_const(dtype, {}, ir::from_int_vector(std::vector<int64_t>{ir::wrap_int(*i, dtype)}, dtype));
  if (const auto* i = std::get_if<int64_t>(&scalar)) return this->scalar(dtype, static_cast<double>(*i));
  if (const auto* b = std::get_if<bool>(&scalar)) return this->scalar(dtype, *b ? 1 : 0);
  const auto* d = std::get_if<double>(&scalar);  // the boundary checked the kind (op_schema)
  return this->scalar(dtype, d ? *d : 0.0);
}

// Quantization parameters of a tensor permuted by `perm`: the quantized dimension moves with it.
static std::optional<ir::QuantParams> permuted_quant(const std::optional<ir::QuantParams>& q, const Perm& perm) {
  if (!q || q->scale.size() == 1) return q;
  ir::QuantParams out = *q;
  out.axis = static_cast<int32_t>(std::find(perm.begin(), perm.end(), q->axis) - perm.begin());
  return out;
}

ir::Value* LowerCtx::transpose(ir::Value* v, const Perm& perm) {
  ir::Shape out_shape;
  for (int d : perm) out_shape.push_back(v->shape.at(d));
  if (v->is_const()) {
    auto bytes = ir::permute_bytes(v->data->bytes(), ir::dtype_size(v->dtype), ir::sizes_of(v->shape), perm);
    v->data->drop_pages();  // usually only the permuted copy is written: do not keep both resident
    ir::Value* c = new_const(v->dtype, std::move(out_shape), std::move(bytes));
    c->quant = permuted_quant(v->quant, perm);
    return c;
  }
  std::vector<int32_t> p(perm.begin(), perm.end());
  ir::Value* out = make_temp(v->dtype, std::move(out_shape));
  out->quant = permuted_quant(v->quant, perm);
  emit(ir::TflOp::TRANSPOSE, {v, const_i32(p, {static_cast<int64_t>(p.size())})}, {out});
  return out;
}

ir::Value* LowerCtx::reshape(ir::Value* v, const std::vector<int64_t>& shape) {
  // Static sizes would bake a dynamic dim's example size into the file: refuse instead (the
  // rules that handle dynamic shapes emit their RESHAPE with -1 themselves).
  if (!ir::is_fully_static(v->shape)) {
    unsupported("this op reshapes a tensor with a dynamic shape (" + ir::shape_to_string(v->shape) +
                "), which is not supported yet");
    return v;
  }
  if (ir::sizes_of(v->shape) == shape) return v;
  if (v->is_const()) {
    // Same bytes, new shape: share the data instead of copying it.
    ir::Value* c = dst_.add_const(name_for(v->name), v->dtype, ir::static_shape(shape), *v->data);
    c->quant = v->quant;
    return c;
  }
  ir::Value* out = make_temp(v->dtype, ir::static_shape(shape));
  out->quant = v->quant;
  std::vector<int32_t> s(shape.begin(), shape.end());
  emit(ir::TflOp::RESHAPE, {v, const_i32(s, {static_cast<int64_t>(s.size())})}, {out});
  return out;
}

ir::Value* LowerCtx::slice(ir::Value* v, int axis, int64_t begin, int64_t size) {
  const int rank = v->rank();
  // The other axes get their explicit sizes when static, not -1: XNNPACK refuses a SLICE with a
  // -1 size.
  std::vector<int32_t> b(rank, 0), s;
  for (const ir::Dim& d : v->shape) s.push_back(d.is_static() ? static_cast<int32_t>(d.size) : -1);
  b[axis] = static_cast<int32_t>(begin);
  s[axis] = static_cast<int32_t>(size);
  ir::Shape shape = v->shape;
  shape[axis].size = size;
  ir::Value* out = make_temp(v->dtype, shape);
  out->quant = v->quant;
  emit(ir::TflOp::SLICE, {v, const_i32(b, {rank}), const_i32(s, {rank})}, {out});
  return out;
}

ir::Value* LowerCtx::cast(ir::Value* v, ir::DType dtype) {
  if (v->dtype == dtype) return v;
  // A quantized constant (a dequantized PT2E weight) already stands for float values; it stays
  // int8 so the op reading it can use it as int8 weights (passes/fold_qdq.cc decides).
  if (v->is_const() && v->quant && ir::is_floating(dtype)) return v;
  if (v->is_const()) {
    auto bytes = ir::is_floating(v->dtype) ? ir::from_float_vector(to_float_vector(*v), dtype)
                                           : ir::from_int_vector(to_int_vector(*v), dtype);
    return new_const(dtype, v->shape, std::move(bytes));
  }
  ir::Value* out = make_temp(dtype, v->shape);
  emit_cast(v, out);
  return out;
}

ir::Node* LowerCtx::emit_cast(ir::Value* in, ir::Value* out) {
  ir::Node* n = emit_as_is(ir::TflOp::CAST, {in}, {out});
  n->set("in_data_type", static_cast<int64_t>(in->dtype));
  n->set("out_data_type", static_cast<int64_t>(out->dtype));
  return n;
}

ir::Value* LowerCtx::runtime_size(const std::string& symbol) {
  if (auto it = runtime_sizes_.find(symbol); it != runtime_sizes_.end()) return it->second;
  for (const ir::Value* in : src_.inputs) {
    const auto dim =
        std::find_if(in->shape.begin(), in->shape.end(), [&](const ir::Dim& d) { return d.symbol == symbol; });
    if (dim == in->shape.end() || !is_lowered(in)) continue;
    const int rank = in->rank();
    const Perm layout = layout_of(in);
    const Perm full = layout.empty() ? identity_perm(rank) : layout;
    const int logical = static_cast<int>(dim - in->shape.begin());
    const int axis = static_cast<int>(std::find(full.begin(), full.end(), logical) - full.begin());
    ir::Value* shape = make_temp(ir::DType::kInt32, ir::static_shape(std::vector<int64_t>{rank}));
    emit(ir::TflOp::SHAPE, {get_any(in)}, {shape})->set("out_type", static_cast<int64_t>(ir::DType::kInt32));
    return runtime_sizes_[symbol] = slice(shape, 0, axis, 1);
  }
  unsupported("a size computed from dynamic dims (" + symbol +
              ") is not supported yet: only the sizes of the model inputs' dynamic dims are read at run time");
  return nullptr;
}

ir::Value* LowerCtx::runtime_shape(const ir::Shape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (ir::is_fully_static(shape)) {
    std::vector<int32_t> s;
    for (const ir::Dim& d : shape) s.push_back(static_cast<int32_t>(d.size));
    return const_i32(s, {rank});
  }
  std::vector<ir::Value*> pieces;
  std::vector<int32_t> run;  // consecutive static dims, one constant piece
  auto flush = [&] {
    if (run.empty()) return;
    pieces.push_back(const_i32(run, {static_cast<int64_t>(run.size())}));
    run.clear();
  };
  for (const ir::Dim& d : shape) {
    if (d.is_static()) {
      run.push_back(static_cast<int32_t>(d.size));
      continue;
    }
    flush();
    ir::Value* size = runtime_size(d.symbol);
    if (!size) return nullptr;
    pieces.push_back(size);
  }
  flush();
  if (pieces.size() == 1) return pieces[0];
  ir::Value* out = make_temp(ir::DType::kInt32, ir::static_shape(std::vector<int64_t>{rank}));
  ir::Node* c = emit(ir::TflOp::CONCATENATION, pieces, {out});
  c->set("axis", int64_t{0});
  ir::set_fused_activation(*c, ir::Activation::NONE);
  return out;
}

ir::Value* LowerCtx::reshape_dynamic(ir::Value* v, const ir::Shape& shape) {
  const auto dynamic = std::count_if(shape.begin(), shape.end(), [](const ir::Dim& d) { return !d.is_static(); });
  ir::Value* sizes = nullptr;
  if (dynamic == 1) {
    std::vector<int32_t> s;
    for (const ir::Dim& d : shape) s.push_back(d.is_static() ? static_cast<int32_t>(d.size) : -1);
    sizes = const_i32(s, {static_cast<int64_t>(s.size())});
  } else if (!(sizes = runtime_shape(shape))) {
    return nullptr;
  }
  ir::Value* out = make_temp(v->dtype, shape);
  out->quant = v->quant;
  emit(ir::TflOp::RESHAPE, {v, sizes}, {out});
  return out;
}

void LowerCtx::unsupported(const std::string& why) {
  failed_ = true;
  Diagnostic d;
  if (node) {
    d.op = node->op;
    d.node = node->name;
    d.module_path = node->source.module_path;
    d.source = node->source.location;
  }
  d.message = why;
  diagnostics_.push_back(std::move(d));
}

}  // namespace pt2tflite::lower
