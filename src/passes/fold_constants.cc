// Constant folding on the TFLite graph: an op whose inputs are all constants is evaluated at
// convert time and its output becomes a constant. Lowering already folds what it builds itself
// (permuted weights, index math); this catches what appears only once ops meet, e.g. a GATHER of
// a constant bias table by constant indices (efficientformer's attention biases), which would
// otherwise run on the builtin kernel outside XNNPACK on every invoke, or maxvit's relative
// position bias, a chain of BATCH_MATMULs of constant tables recomputed on every invoke. Masks
// built from aranges (Hugging Face's bidirectional mask: arange → compare → expand → where) fold
// the same way, and an ADD of the resulting all-zero mask is then dropped as an identity; so do
// masks written slice by slice into a constant (Swin's shifted-window mask: CONCATENATIONs of
// constants, then compares and selects) and tables computed by an MLP from a constant grid (Swin
// V2's continuous position bias: FULLY_CONNECTED, RELU, GATHER, LOGISTIC), BERT's token-type
// lookup (a GATHER_ND of a constant buffer by constant coordinates), and the weight-normalized
// filter of wav2vec2's positional conv (g · v / ‖v‖ of parameters: SUM, SQRT, DIV, MUL), which
// XNNPACK would otherwise refuse since its filter is not a constant.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "ir/constants.h"
#include "passes/fold_limits.h"
#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

using ir::broadcast_offsets;

using ir::Value;
using Bytes = std::vector<uint8_t>;

std::vector<int64_t> sizes(const Value* v) { return ir::sizes_of(v->shape); }

// Steps the row-major multi-index `idx` over a tensor of `sizes` to the next element.
void next_index(std::vector<int64_t>& idx, const std::vector<int64_t>& sizes) {
  for (size_t d = idx.size(); d-- > 0;) {
    if (++idx[d] < sizes[d]) return;
    idx[d] = 0;
  }
}

// The fused activation TFLite applies after an arithmetic op.
float activate(float x, ir::Activation act) {
  if (act == ir::Activation::RELU) return std::max(x, 0.0f);
  if (act == ir::Activation::RELU6) return std::clamp(x, 0.0f, 6.0f);
  if (act == ir::Activation::RELU_N1_TO_1) return std::clamp(x, -1.0f, 1.0f);
  return x;
}

// Binary elementwise ops with broadcasting, computed in float32 (as the float kernels do) or in
// int64 and narrowed (wrapping like the int32 kernels).
std::optional<Bytes> eval_binary(const ir::Node& n) {
  const Value* a = n.inputs.at(0);
  const Value* b = n.inputs.at(1);
  const Value* y = n.outputs[0];
  const ir::TflOp op = *ir::tfl_op(n);
  const ir::Activation act = ir::fused_activation(n);
  const auto oa = broadcast_offsets(sizes(a), sizes(y)), ob = broadcast_offsets(sizes(b), sizes(y));
  if (y->dtype == ir::DType::kFloat32) {
    const auto va = ir::to_float_vector(*a), vb = ir::to_float_vector(*b);
    std::vector<float> r(oa.size());
    for (size_t i = 0; i < r.size(); ++i) {
      const float x = va[oa[i]], z = vb[ob[i]];
      float v;
      if (op == ir::TflOp::ADD)
        v = x + z;
      else if (op == ir::TflOp::SUB)
        v = x - z;
      else if (op == ir::TflOp::MUL)
        v = x * z;
      else if (op == ir::TflOp::DIV)
        v = x / z;
      else if (op == ir::TflOp::MAXIMUM)
        v = std::max(x, z);
      else if (op == ir::TflOp::MINIMUM)
        v = std::min(x, z);
      else
        return std::nullopt;
      r[i] = activate(v, act);
    }
    return ir::to_bytes(std::span<const float>(r));
  }
  if ((y->dtype != ir::DType::kInt32 && y->dtype != ir::DType::kInt64) || op == ir::TflOp::DIV ||
      act != ir::Activation::NONE)
    return std::nullopt;
  const auto va = ir::to_int_vector(*a), vb = ir::to_int_vector(*b);
  std::vector<int64_t> r(oa.size());
  for (size_t i = 0; i < r.size(); ++i) {
    const int64_t x = va[oa[i]], z = vb[ob[i]];
    if (op == ir::TflOp::ADD)
      r[i] = x + z;
    else if (op == ir::TflOp::SUB)
      r[i] = x - z;
    else if (op == ir::TflOp::MUL)
      r[i] = x * z;
    else if (op == ir::TflOp::MAXIMUM)
      r[i] = std::max(x, z);
    else if (op == ir::TflOp::MINIMUM)
      r[i] = std::min(x, z);
    else
      return std::nullopt;
  }
  return ir::from_int_vector(r, y->dtype);
}

// GATHER along `axis` (batch_dims 0): out[outer, i, inner] = params[outer, indices[i], inner].
std::optional<Bytes> eval_gather(const ir::Node& n) {
  const Value* params = n.inputs.at(0);
  const Value* indices = n.inputs.at(1);
  const auto shape = sizes(params);
  const int axis = static_cast<int>(n.get_int("axis"));
  const size_t es = ir::dtype_size(params->dtype);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  const auto ids = ir::to_int_vector(*indices);
  for (int64_t i : ids)
    if (i < 0 || i >= shape[axis]) return std::nullopt;  // the kernel reports an error: keep it
  const auto src = params->data->bytes();
  Bytes out(outer * ids.size() * inner * es);
  uint8_t* dst = out.data();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : ids) {
      std::memcpy(dst, src.data() + ((o * shape[axis] + i) * inner) * es, inner * es);
      dst += inner * es;
    }
  return out;
}

// GATHER_ND: out[i] = params[indices[i, 0], ..., indices[i, k-1], ...] (a slice of the trailing
// rank - k dims per index row).
std::optional<Bytes> eval_gather_nd(const ir::Node& n) {
  const Value* params = n.inputs.at(0);
  const Value* indices = n.inputs.at(1);
  const auto shape = sizes(params), ishape = sizes(indices);
  if (ishape.empty()) return std::nullopt;
  const size_t k = static_cast<size_t>(ishape.back());
  if (k == 0 || k > shape.size()) return std::nullopt;
  const size_t es = ir::dtype_size(params->dtype);
  int64_t inner = 1;
  for (size_t d = k; d < shape.size(); ++d) inner *= shape[d];
  const auto ids = ir::to_int_vector(*indices);
  const auto src = params->data->bytes();
  Bytes out(ids.size() / k * inner * es);
  for (size_t row = 0; row * k < ids.size(); ++row) {
    int64_t offset = 0;
    for (size_t d = 0; d < k; ++d) {
      const int64_t i = ids[row * k + d];
      if (i < 0 || i >= shape[d]) return std::nullopt;  // the kernel reports an error: keep it
      offset = offset * shape[d] + i;
    }
    std::memcpy(out.data() + row * inner * es, src.data() + offset * inner * es, inner * es);
  }
  return out;
}

// BATCH_MATMUL in float32 with batch-dim broadcasting and the adj_x / adj_y flags; sums in double.
std::optional<Bytes> eval_batch_matmul(const ir::Node& n) {
  const Value* a = n.inputs.at(0);
  const Value* b = n.inputs.at(1);
  const Value* y = n.outputs[0];
  if (y->dtype != ir::DType::kFloat32 || a->rank() < 2 || b->rank() < 2) return std::nullopt;
  const bool adj_x = n.find("adj_x") && n.get_bool("adj_x"), adj_y = n.find("adj_y") && n.get_bool("adj_y");
  const auto sa = sizes(a), sb = sizes(b), sy = sizes(y);
  const int ra = a->rank(), ry = y->rank();
  const int64_t M = sy[ry - 2], N = sy[ry - 1], K = adj_x ? sa[ra - 2] : sa[ra - 1];
  // Batch offsets: broadcast each operand's batch dims (as [..., 1, 1] blocks) to the output's.
  auto batch_offsets = [&](const std::vector<int64_t>& s) {
    std::vector<int64_t> batch(s.begin(), s.end() - 2), out_batch(sy.begin(), sy.end() - 2);
    return broadcast_offsets(batch, out_batch);
  };
  const auto ba = batch_offsets(sa), bb = batch_offsets(sb);
  const auto va = ir::to_float_vector(*a), vb = ir::to_float_vector(*b);
  std::vector<float> r(ba.size() * M * N);
  for (size_t i = 0; i < ba.size(); ++i) {
    const float* pa = va.data() + ba[i] * M * K;
    const float* pb = vb.data() + bb[i] * K * N;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += static_cast<double>(adj_x ? pa[k * M + m] : pa[m * K + k]) * (adj_y ? pb[j * K + k] : pb[k * N + j]);
        r[(i * M + m) * N + j] = static_cast<float>(acc);
      }
  }
  return ir::to_bytes(std::span<const float>(r));
}

// SLICE: out[i] = in[begin + i] for every index i of the output (size -1 = to the end).
std::optional<Bytes> eval_slice(const ir::Node& n) {
  const Value* x = n.inputs.at(0);
  const auto in = sizes(x), out = sizes(n.outputs[0]);
  const auto begin = ir::to_int_vector(*n.inputs.at(1));
  const size_t es = ir::dtype_size(x->dtype), rank = in.size();
  if (begin.size() != rank) return std::nullopt;
  std::vector<int64_t> stride(rank, 1);
  for (size_t d = rank; d-- > 1;) stride[d - 1] = stride[d] * in[d];
  int64_t total = 1;
  for (int64_t s : out) total *= s;
  const auto src = x->data->bytes();
  Bytes r(total * es);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (begin[d] + idx[d]) * stride[d];
    std::memcpy(r.data() + i * es, src.data() + off * es, es);
    next_index(idx, out);
  }
  return r;
}

// Comparisons and boolean logic, with broadcasting; values compared as double, which holds every
// float32 and every int32 exactly (int64 indices beyond 2^53 do not occur in shapes and masks).
std::optional<Bytes> eval_predicate(const ir::Node& n) {
  const Value* y = n.outputs[0];
  auto values = [](const Value* v) {
    std::vector<double> r;
    if (ir::is_floating(v->dtype)) {
      for (float f : ir::to_float_vector(*v)) r.push_back(f);
    } else {
      for (int64_t i : ir::to_int_vector(*v)) r.push_back(static_cast<double>(i));
    }
    return r;
  };
  const Value* a = n.inputs.at(0);
  const auto va = values(a);
  const auto oa = broadcast_offsets(sizes(a), sizes(y));
  std::vector<int64_t> r(oa.size());
  if (n.is(ir::TflOp::LOGICAL_NOT)) {
    for (size_t i = 0; i < r.size(); ++i) r[i] = va[oa[i]] == 0;
    return ir::from_int_vector(r, y->dtype);
  }
  const Value* b = n.inputs.at(1);
  const auto vb = values(b);
  const auto ob = broadcast_offsets(sizes(b), sizes(y));
  for (size_t i = 0; i < r.size(); ++i) {
    const double x = va[oa[i]], z = vb[ob[i]];
    if (n.is(ir::TflOp::EQUAL))
      r[i] = x == z;
    else if (n.is(ir::TflOp::NOT_EQUAL))
      r[i] = x != z;
    else if (n.is(ir::TflOp::LESS))
      r[i] = x < z;
    else if (n.is(ir::TflOp::LESS_EQUAL))
      r[i] = x <= z;
    else if (n.is(ir::TflOp::GREATER))
      r[i] = x > z;
    else if (n.is(ir::TflOp::GREATER_EQUAL))
      r[i] = x >= z;
    else if (n.is(ir::TflOp::LOGICAL_AND))
      r[i] = x != 0 && z != 0;
    else
      r[i] = x != 0 || z != 0;  // LOGICAL_OR
  }
  return ir::from_int_vector(r, y->dtype);
}

// SELECT_V2(cond, a, b) with broadcasting: a where cond, else b (any dtype, copied bytewise).
std::optional<Bytes> eval_select(const ir::Node& n) {
  const Value* y = n.outputs[0];
  const Value *c = n.inputs.at(0), *a = n.inputs.at(1), *b = n.inputs.at(2);
  if (a->dtype != y->dtype || b->dtype != y->dtype) return std::nullopt;
  const auto cond = ir::to_int_vector(*c);
  const auto oc = broadcast_offsets(sizes(c), sizes(y)), oa = broadcast_offsets(sizes(a), sizes(y)),
             ob = broadcast_offsets(sizes(b), sizes(y));
  const size_t es = ir::dtype_size(y->dtype);
  const auto sa = a->data->bytes(), sb = b->data->bytes();
  Bytes r(oc.size() * es);
  for (size_t i = 0; i < oc.size(); ++i)
    std::memcpy(r.data() + i * es, cond[oc[i]] ? sa.data() + oa[i] * es : sb.data() + ob[i] * es, es);
  return r;
}

// CONCATENATION along `axis`: for each outer index, the inputs' inner blocks one after another.
// Masks built by slice writes into a constant (Swin's shifted-window mask) lower to these.
std::optional<Bytes> eval_concatenation(const ir::Node& n) {
  const Value* y = n.outputs[0];
  if (ir::fused_activation(n) != ir::Activation::NONE) return std::nullopt;
  const auto out = sizes(y);
  const int rank = static_cast<int>(out.size());
  int64_t axis = n.get_int("axis");
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return std::nullopt;
  const size_t es = ir::dtype_size(y->dtype);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= out[d];
  for (int d = static_cast<int>(axis) + 1; d < rank; ++d) inner *= out[d];
  for (const Value* x : n.inputs)
    if (x->dtype != y->dtype || x->rank() != rank) return std::nullopt;
  Bytes r(ir::num_elements(y->shape) * es);
  uint8_t* dst = r.data();
  for (int64_t o = 0; o < outer; ++o)
    for (const Value* x : n.inputs) {
      const size_t block = static_cast<size_t>(x->shape[axis].size * inner) * es;
      std::memcpy(dst, x->data->bytes().data() + o * block, block);
      dst += block;
    }
  return r;
}

// FULLY_CONNECTED in float32: y[m, o] = act(sum_k x[m, k] · w[o, k] + b[o]), summed in double.
// Constant inputs occur where a model computes a table from a constant grid with an MLP (Swin V2's
// continuous position bias).
std::optional<Bytes> eval_fully_connected(const ir::Node& n) {
  const Value* x = n.inputs.at(0);
  const Value* w = n.inputs.at(1);
  const Value* b = n.inputs.size() > 2 ? n.inputs[2] : nullptr;
  const Value* y = n.outputs[0];
  if (y->dtype != ir::DType::kFloat32 || x->dtype != ir::DType::kFloat32 || w->rank() != 2) return std::nullopt;
  const ir::Activation act = ir::fused_activation(n);
  const int64_t O = w->shape[0].size, K = w->shape[1].size;
  const int64_t numel = ir::num_elements(x->shape);
  if (K == 0 || numel % K != 0 || ir::num_elements(y->shape) != numel / K * O) return std::nullopt;
  const int64_t M = numel / K;
  const auto vx = ir::to_float_vector(*x), vw = ir::to_float_vector(*w);
  const auto vb = b ? ir::to_float_vector(*b) : std::vector<float>(O, 0.0f);
  if (static_cast<int64_t>(vb.size()) != O) return std::nullopt;
  std::vector<float> r(M * O);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t o = 0; o < O; ++o) {
      double acc = vb[o];
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(vx[m * K + k]) * vw[o * K + k];
      r[m * O + o] = activate(static_cast<float>(acc), act);
    }
  return ir::to_bytes(std::span<const float>(r));
}

// PAD with zeros: each input element copied to its offset in the zero-filled output.
std::optional<Bytes> eval_pad(const ir::Node& n) {
  const Value* x = n.inputs.at(0);
  const auto in = sizes(x), out = sizes(n.outputs[0]);
  const auto pads = ir::to_int_vector(*n.inputs.at(1));
  const size_t rank = in.size(), es = ir::dtype_size(x->dtype);
  if (pads.size() != 2 * rank) return std::nullopt;
  std::vector<int64_t> stride(rank, 1);
  for (size_t d = rank; d-- > 1;) stride[d - 1] = stride[d] * out[d];
  const int64_t total = ir::num_elements(x->shape);
  const auto src = x->data->bytes();
  Bytes r(ir::num_elements(n.outputs[0]->shape) * es, 0);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (pads[2 * d] + idx[d]) * stride[d];
    std::memcpy(r.data() + off * es, src.data() + i * es, es);
    next_index(idx, in);
  }
  return r;
}

// Float32 unary math and activations, computed in double and rounded once.
std::optional<Bytes> eval_unary(const ir::Node& n) {
  const Value* x = n.inputs.at(0);
  if (x->dtype != ir::DType::kFloat32 || n.outputs[0]->dtype != ir::DType::kFloat32 || n.inputs.size() != 1)
    return std::nullopt;
  const ir::TflOp op = *ir::tfl_op(n);
  std::vector<float> r = ir::to_float_vector(*x);
  for (float& f : r) {
    const double v = f;
    double z;
    if (op == ir::TflOp::RELU)
      z = std::max(v, 0.0);
    else if (op == ir::TflOp::RELU6)
      z = std::clamp(v, 0.0, 6.0);
    else if (op == ir::TflOp::RELU_N1_TO_1)
      z = std::clamp(v, -1.0, 1.0);
    else if (op == ir::TflOp::LOGISTIC)
      z = 1.0 / (1.0 + std::exp(-v));
    else if (op == ir::TflOp::TANH)
      z = std::tanh(v);
    else if (op == ir::TflOp::EXP)
      z = std::exp(v);
    else if (op == ir::TflOp::LOG)
      z = std::log(v);
    else if (op == ir::TflOp::SQRT)
      z = std::sqrt(v);
    else if (op == ir::TflOp::RSQRT)
      z = 1.0 / std::sqrt(v);
    else if (op == ir::TflOp::NEG)
      z = -v;
    else if (op == ir::TflOp::ABS)
      z = std::fabs(v);
    else
      return std::nullopt;
    f = static_cast<float>(z);
  }
  return ir::to_bytes(std::span<const float>(r));
}

// SUM / MEAN / REDUCE_MAX / REDUCE_MIN of a float32 constant over constant axes (keep_dims or
// not: the bytes are the same), accumulated in double.
std::optional<Bytes> eval_reduce(const ir::Node& n) {
  const Value* x = n.inputs.at(0);
  if (x->dtype != ir::DType::kFloat32 || n.outputs[0]->dtype != ir::DType::kFloat32) return std::nullopt;
  const auto in = sizes(x);
  const int rank = static_cast<int>(in.size());
  std::vector<bool> reduced(rank, false);
  for (int64_t a : ir::to_int_vector(*n.inputs.at(1))) {
    if (a < -rank || a >= rank) return std::nullopt;
    reduced[a < 0 ? a + rank : a] = true;
  }
  // Output offset of each input element: its coordinates with the reduced ones dropped.
  std::vector<int64_t> out_stride(rank, 0);
  int64_t count = 1, outputs = 1;
  for (int d = rank; d-- > 0;) {
    if (reduced[d]) {
      count *= in[d];
    } else {
      out_stride[d] = outputs;
      outputs *= in[d];
    }
  }
  const auto v = ir::to_float_vector(*x);
  const bool is_max = n.is(ir::TflOp::REDUCE_MAX), is_min = n.is(ir::TflOp::REDUCE_MIN);
  std::vector<double> acc(outputs, is_max ? -INFINITY : is_min ? INFINITY : 0.0);
  std::vector<int64_t> idx(rank, 0);
  for (float f : v) {
    int64_t o = 0;
    for (int d = 0; d < rank; ++d) o += idx[d] * out_stride[d];
    acc[o] = is_max ? std::max<double>(acc[o], f) : is_min ? std::min<double>(acc[o], f) : acc[o] + f;
    next_index(idx, in);
  }
  std::vector<float> r(outputs);
  for (int64_t i = 0; i < outputs; ++i)
    r[i] = static_cast<float>(n.is(ir::TflOp::MEAN) ? acc[i] / static_cast<double>(count) : acc[i]);
  return ir::to_bytes(std::span<const float>(r));
}

// The folded bytes of `n`'s single output, or nullopt when the op is not one folded here.
std::optional<Bytes> evaluate(const ir::Node& n) {
  const Value* x = n.inputs.at(0);
  const Value* y = n.outputs[0];
  if (n.is(ir::TflOp::RESHAPE)) return Bytes(x->data->bytes().begin(), x->data->bytes().end());
  if (n.is(ir::TflOp::TRANSPOSE)) {
    const auto p = ir::to_int_vector(*n.inputs.at(1));
    return ir::permute_bytes(x->data->bytes(), ir::dtype_size(x->dtype), sizes(x),
                             std::vector<int>(p.begin(), p.end()));
  }
  if (n.is(ir::TflOp::CAST)) {
    if (ir::is_floating(x->dtype) && !ir::is_floating(y->dtype)) return std::nullopt;  // rounding mode differs
    return ir::is_floating(x->dtype) ? ir::from_float_vector(ir::to_float_vector(*x), y->dtype)
                                     : ir::from_int_vector(ir::to_int_vector(*x), y->dtype);
  }
  if (n.is(ir::TflOp::GATHER)) return eval_gather(n);
  if (n.is(ir::TflOp::GATHER_ND)) return eval_gather_nd(n);
  if (n.is(ir::TflOp::BROADCAST_TO)) {
    const size_t es = ir::dtype_size(x->dtype);
    const auto src = x->data->bytes();
    const auto offsets = broadcast_offsets(sizes(x), sizes(y));
    Bytes out(offsets.size() * es);
    for (size_t i = 0; i < offsets.size(); ++i) std::memcpy(out.data() + i * es, src.data() + offsets[i] * es, es);
    return out;
  }
  if (n.is(ir::TflOp::BATCH_MATMUL)) return eval_batch_matmul(n);
  if (n.is(ir::TflOp::SLICE)) return eval_slice(n);
  if (n.is(ir::TflOp::SELECT_V2)) return eval_select(n);
  if (n.is(ir::TflOp::CONCATENATION)) return eval_concatenation(n);
  if (n.is(ir::TflOp::PAD)) return eval_pad(n);
  if (n.is(ir::TflOp::FULLY_CONNECTED)) return eval_fully_connected(n);
  const std::optional<ir::TflOp> op = ir::tfl_op(n);
  if (!op) return std::nullopt;
  switch (*op) {
    case ir::TflOp::RELU:
    case ir::TflOp::RELU6:
    case ir::TflOp::RELU_N1_TO_1:
    case ir::TflOp::LOGISTIC:
    case ir::TflOp::TANH:
    case ir::TflOp::EXP:
    case ir::TflOp::LOG:
    case ir::TflOp::SQRT:
    case ir::TflOp::RSQRT:
    case ir::TflOp::NEG:
    case ir::TflOp::ABS: return eval_unary(n);
    case ir::TflOp::SUM:
    case ir::TflOp::MEAN:
    case ir::TflOp::REDUCE_MAX:
    case ir::TflOp::REDUCE_MIN: return eval_reduce(n);
    case ir::TflOp::EQUAL:
    case ir::TflOp::NOT_EQUAL:
    case ir::TflOp::LESS:
    case ir::TflOp::LESS_EQUAL:
    case ir::TflOp::GREATER:
    case ir::TflOp::GREATER_EQUAL:
    case ir::TflOp::LOGICAL_AND:
    case ir::TflOp::LOGICAL_OR:
    case ir::TflOp::LOGICAL_NOT: return eval_predicate(n);
    case ir::TflOp::ADD:
    case ir::TflOp::SUB:
    case ir::TflOp::MUL:
    case ir::TflOp::DIV:
    case ir::TflOp::MAXIMUM:
    case ir::TflOp::MINIMUM: return eval_binary(n);
    default: break;
  }
  return std::nullopt;
}

// True when every element of the float constant `v` equals `value`.
bool is_float_splat(const Value* v, float value) {
  if (!v || !v->is_const() || v->quant || v->dtype != ir::DType::kFloat32) return false;
  const auto values = ir::to_float_vector(*v);
  return std::all_of(values.begin(), values.end(), [&](float f) { return f == value; });
}

// x + 0, x - 0, x * 1, x / 1 (no fused activation, no broadcasting of x): the result is x, exactly
// (up to the sign of a zero), so the op is dropped. Such ops appear once masks and scales fold.
Value* identity_operand(const ir::Node& n) {
  if (n.outputs.size() != 1 || n.inputs.size() != 2 || n.outputs[0]->quant) return nullptr;
  if (ir::fused_activation(n) != ir::Activation::NONE) return nullptr;
  Value *a = n.inputs[0], *b = n.inputs[1], *y = n.outputs[0];
  auto same = [&](const Value* v) { return v->dtype == y->dtype && v->shape == y->shape && !v->quant; };
  if (n.is(ir::TflOp::ADD)) {
    if (is_float_splat(b, 0.0f) && same(a)) return a;
    if (is_float_splat(a, 0.0f) && same(b)) return b;
  } else if (n.is(ir::TflOp::MUL)) {
    if (is_float_splat(b, 1.0f) && same(a)) return a;
    if (is_float_splat(a, 1.0f) && same(b)) return b;
  } else if (n.is(ir::TflOp::SUB)) {
    if (is_float_splat(b, 0.0f) && same(a)) return a;
  } else if (n.is(ir::TflOp::DIV)) {
    if (is_float_splat(b, 1.0f) && same(a)) return a;
  }
  return nullptr;
}

// True when every reader of `v` has only constants (or `v`) as inputs, so it folds next.
bool only_feeds_constant_ops(const ir::Graph& g, const Value* v) {
  for (const ir::Node* u : g.users(v))
    for (const Value* in : u->inputs)
      if (in && in != v && (!in->is_const() || in->quant)) return false;
  return std::find(g.outputs.begin(), g.outputs.end(), v) == g.outputs.end();
}

}  // namespace

void fold_constants(ir::Graph& g) {
  for (const auto& n : g.nodes()) {
    if (n->outputs.size() != 1 || !n->outputs[0] || n->inputs.empty()) continue;
    Value* y = n->outputs[0];
    // Quantized values keep their ops (folding would need the requantization rules); a graph
    // output stays computed, since TFLite outputs are not constants.
    if (y->quant || !ir::is_fully_static(y->shape)) continue;
    if (std::find(g.outputs.begin(), g.outputs.end(), y) != g.outputs.end()) continue;
    if (Value* x = identity_operand(*n)) {
      g.replace_uses(y, x);
      continue;
    }
    if (!std::all_of(n->inputs.begin(), n->inputs.end(),
                     [](const Value* v) { return !v || (v->is_const() && !v->quant); }))
      continue;
    int64_t operand_bytes = 0;
    for (const Value* v : n->inputs)
      if (v) operand_bytes += static_cast<int64_t>(v->data->bytes().size());
    const int64_t result_bytes = ir::num_elements(y->shape) * static_cast<int64_t>(ir::dtype_size(y->dtype));
    if (!worth_storing(result_bytes, operand_bytes)) continue;
    // A broadcast of a constant read at run time stays a run-time broadcast: its readers mostly
    // broadcast by themselves (drop_broadcasts), and a stored copy would only grow the file.
    if (n->is(ir::TflOp::BROADCAST_TO) && result_bytes > operand_bytes && !only_feeds_constant_ops(g, y)) continue;
    std::optional<Bytes> bytes = evaluate(*n);
    if (!bytes) continue;
    Value* c = g.add_const(g.unique_name(y->name), y->dtype, y->shape, ir::ConstData::own(std::move(*bytes)));
    g.replace_uses(y, c);
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
