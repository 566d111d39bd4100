// Indexing: slice / select / split (views of one stored tensor, in its layout) → SLICE,
// STRIDED_SLICE, SPLIT; embedding and single-tensor advanced indexing → GATHER (constant indices
// narrowed to int32; run-time int32/int64 ids fed as they are, since GATHER takes both).
#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>
#include <optional>

#include "ir/constants.h"
#include "lower/cache_write.h"
#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// The stored axis of logical dim `dim` in `layout`.
int stored_axis(const Perm& layout, int dim) {
  if (layout.empty()) return dim;
  return static_cast<int>(std::find(layout.begin(), layout.end(), dim) - layout.begin());
}

int normalize_dim(int64_t dim, int rank) { return static_cast<int>(dim < 0 ? dim + rank : dim); }

// slice(self, dim, start, end = a run-time size, 1) of a static dim (BERT's
// position_ids[:, :seq_len]): the output's length there is a model input's dynamic dim; SLICE with
// a size tensor that reads it at run time (-1, "to the end", on the other axes; builtin kernel).
void lower_slice_to_runtime_end(LowerCtx& ctx, const ir::Node& n, const Value* x, const Value* y, int dim) {
  const int rank = x->rank();
  const int64_t size = x->shape[dim].size;
  int64_t start = n.is_none("start") ? 0 : n.get_int("start");
  if (start < 0) start = std::max<int64_t>(start + size, 0);
  if (n.get_int("step") != 1 || y->shape.at(dim).is_static() || start >= size)
    return ctx.unsupported(
        "a slice with a run-time end is supported with step 1 and an output length that is a "
        "model input's dynamic dim");
  Value* length = ctx.runtime_size(y->shape[dim].symbol);
  if (!length) return;
  const Perm layout = ctx.layout_of(x);
  const int axis = stored_axis(layout, dim);
  std::vector<int32_t> begin(rank, 0);
  begin[axis] = static_cast<int32_t>(start);
  std::vector<Value*> pieces;
  const int32_t to_end = -1;
  for (int a = 0; a < rank; ++a) pieces.push_back(a == axis ? length : ctx.const_i32(std::span(&to_end, 1), {1}));
  Value* sizes = pieces[0];
  if (rank > 1) {
    sizes = ctx.make_temp(ir::DType::kInt32, ir::static_shape(std::vector<int64_t>{rank}));
    ir::Node* c = ctx.emit(ir::TflOp::CONCATENATION, pieces, {sizes});
    c->set("axis", int64_t{0});
    ir::set_fused_activation(*c, ir::Activation::NONE);
  }
  ctx.emit(ir::TflOp::SLICE, {ctx.get_any(x), ctx.const_i32(begin, {rank}), sizes}, {ctx.make_output(y, layout)});
}

// slice(self, dim, start, end, step) with PyTorch's clamping of start and end.
void lower_slice(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  const int dim = normalize_dim(n.get_int("dim"), rank);
  if (!x->shape.at(dim).is_static()) return ctx.unsupported("slicing a dynamic dim is not supported yet");
  if (const ir::Attr* end = n.find("end"); end && std::holds_alternative<ir::SymRef>(*end))
    return lower_slice_to_runtime_end(ctx, n, x, y, dim);
  const int64_t size = x->shape[dim].size, step = n.get_int("step");
  auto bound = [&](const char* arg, int64_t dflt) {
    int64_t v = n.is_none(arg) ? dflt : n.get_int(arg);
    if (v < 0) v += size;
    return std::clamp<int64_t>(v, 0, size);
  };
  const int64_t start = bound("start", 0), end = bound("end", size);
  const int64_t count = y->shape.at(dim).size;
  if (count == 0) return ctx.unsupported("a slice with no elements is not supported");
  const Perm layout = ctx.layout_of(x);
  if (count == size) return ctx.bind(y, ctx.get_any(x), layout);  // the whole dim: a view of x
  const int axis = stored_axis(layout, dim);
  Value* in = ctx.get_any(x);
  if (step == 1) return ctx.bind(y, ctx.slice(in, axis, start, count), layout);
  // XNNPACK does not take STRIDED_SLICE with a stride other than 1. The elements start, start +
  // step, ... are one fixed position r in each group of `step` of a window of count·step elements:
  // split the window into [count, step] and SLICE position r. (PAD when the last group is cut
  // short) → (SLICE of the window) → RESHAPE → SLICE → RESHAPE, all delegated, the same elements.
  if (ir::is_fully_static(in->shape)) {
    const int64_t window = count * step;
    const int64_t first = window <= size ? std::min(start, size - window) : std::max<int64_t>(0, start - step + 1);
    const int64_t r = start - first;
    if (first + window > size) {
      std::vector<int32_t> pads(2 * rank, 0);
      pads[2 * axis + 1] = static_cast<int32_t>(first + window - size);
      ir::Shape padded = in->shape;
      padded[axis].size = first + window;
      Value* out = ctx.make_temp(in->dtype, padded);
      out->quant = in->quant;
      ctx.emit(ir::TflOp::PAD, {in, ctx.const_i32(pads, {rank, 2})}, {out});
      in = out;
    }
    Value* win = first == 0 && window == in->shape[axis].size ? in : ctx.slice(in, axis, first, window);
    std::vector<int64_t> groups = ir::sizes_of(win->shape);
    groups[axis] = count;
    groups.insert(groups.begin() + axis + 1, step);
    Value* picked = ctx.slice(ctx.reshape(win, groups), axis + 1, r, 1);
    return ctx.bind(y, ctx.reshape(picked, ir::sizes_of(physical_shape(y->shape, layout))), layout);
  }
  // A dynamic shape: STRIDED_SLICE, which runs on the builtin kernel.
  std::vector<int32_t> b(rank, 0), e, s(rank, 1);
  for (const ir::Dim& d : in->shape) e.push_back(static_cast<int32_t>(d.size));
  b[axis] = static_cast<int32_t>(start);
  e[axis] = static_cast<int32_t>(end);
  s[axis] = static_cast<int32_t>(step);
  Value* out = ctx.make_output(y, layout);
  ctx.emit(ir::TflOp::STRIDED_SLICE, {in, ctx.const_i32(b, {rank}), ctx.const_i32(e, {rank}), ctx.const_i32(s, {rank})},
           {out});
}

// select(self, dim, index) = SLICE of size 1, then a RESHAPE that drops the size-1 stored axis
// (free: the byte order does not change). The other dims keep their stored order.
void lower_select(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  const int dim = normalize_dim(n.get_int("dim"), rank);
  int64_t index = n.get_int("index");
  if (index < 0) index += x->shape.at(dim).size;
  const Perm layout = ctx.layout_of(x);
  const Perm full = layout.empty() ? identity_perm(rank) : layout;
  Perm out_layout;
  for (int d : full)
    if (d != dim) out_layout.push_back(d > dim ? d - 1 : d);
  out_layout = normalized(out_layout, rank - 1);
  Value* sliced = ctx.slice(ctx.get_any(x), stored_axis(layout, dim), index, 1);
  ctx.bind(y, ctx.reshape(sliced, ir::sizes_of(physical_shape(y->shape, out_layout))), out_layout);
}

// split_with_sizes(self, split_sizes, dim): one SPLIT when the pieces are equal, else SLICEs.
void lower_split_with_sizes(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const int rank = x->rank();
  const int dim = normalize_dim(n.get_int("dim"), rank);
  const auto& sizes = n.get_ints("split_sizes");
  const Perm layout = ctx.layout_of(x);
  const int axis = stored_axis(layout, dim);
  Value* in = ctx.get_any(x);
  if (std::adjacent_find(sizes.begin(), sizes.end(), std::not_equal_to<>()) == sizes.end()) {
    std::vector<Value*> outs;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const Value* y = n.outputs.at(i);
      ir::Shape s = in->shape;
      s[axis].size = sizes[i];
      outs.push_back(y ? ctx.make_output(y, layout) : ctx.make_temp(in->dtype, s));  // SPLIT writes every piece
    }
    const int32_t a = axis;
    ctx.emit(ir::TflOp::SPLIT, {ctx.const_i32(std::span(&a, 1), {}), in}, outs)
        ->set("num_splits", static_cast<int64_t>(sizes.size()));
    return;
  }
  int64_t begin = 0;
  for (size_t i = 0; i < sizes.size(); begin += sizes[i], ++i)
    if (const Value* y = n.outputs.at(i)) ctx.bind(y, ctx.slice(in, axis, begin, sizes[i]), layout);
}

// GATHER of `params` along stored axis `axis` by `indices` (int32, PyTorch order).
void emit_gather(LowerCtx& ctx, Value* params, int axis, Value* indices, Value* out) {
  ctx.emit(ir::TflOp::GATHER, {params, indices}, {out})->set("axis", int64_t{axis});
}

// Indices as int32: constants narrowed (negative ones wrapped) at convert time, tensors CAST.
Value* int32_indices(LowerCtx& ctx, const Value* idx, int64_t dim_size) {
  if (Value* c = ctx.constant(idx)) {
    std::vector<int64_t> v = ir::to_int_vector(*c);
    for (int64_t& i : v) {
      if (i < 0) i += dim_size;
      // PyTorch raises IndexError here at run time; the kernels would read or write out of bounds
      // (and index_put's convert-time mask did, on a fuzzed archive).
      if (dim_size > 0 && (i < 0 || i >= dim_size)) {
        ctx.unsupported("constant index " + std::to_string(i < 0 ? i - dim_size : i) +
                        " is out of range for a dim of size " + std::to_string(dim_size));
        return nullptr;
      }
    }
    return ctx.new_const(ir::DType::kInt32, c->shape, ir::from_int_vector(v, ir::DType::kInt32));
  }
  return ctx.cast(ctx.get(idx, {}), ir::DType::kInt32);
}

// GATHER positions: like int32_indices, but a run-time int64 index (token ids are int64 in
// PyTorch) is fed as it is, since TFLite GATHER takes int64 positions; a CAST would be one more
// op on every invoke for nothing.
Value* gather_positions(LowerCtx& ctx, const Value* idx, int64_t dim_size) {
  if (!ctx.constant(idx) && idx->dtype == ir::DType::kInt64) return ctx.get(idx, {});
  return int32_indices(ctx, idx, dim_size);
}

void lower_embedding(LowerCtx& ctx, const ir::Node& n) {
  const Value* w = n.get_tensor("weight");
  const Value* idx = n.get_tensor("indices");
  const Value* y = n.outputs.at(0);
  Value* indices = gather_positions(ctx, idx, w->shape.at(0).size);
  if (!indices) return;
  emit_gather(ctx, ctx.get(w, {}), 0, indices, ctx.make_output(y));
}

// The [B..., k] int32 coordinates of index tensors indices[d0 .. d0 + k) into x's dims
// [d0, d0 + k), broadcast together to `bshape` (PyTorch aligns trailing dims); a constant when every
// index is one, else a CONCATENATION of the (broadcast) run-time indices. nullptr after a diagnostic.
Value* index_coordinates(LowerCtx& ctx, const Value* x, const std::vector<Value*>& indices, int d0, int k,
                         const std::vector<int64_t>& bshape) {
  const int b_rank = static_cast<int>(bshape.size());
  const int64_t count = std::accumulate(bshape.begin(), bshape.end(), int64_t{1}, std::multiplies<>());
  std::vector<int64_t> one = bshape;
  one.push_back(1);
  std::vector<Value*> parts;
  for (int j = 0; j < k; ++j) {
    const Value* idx = indices[d0 + j];
    if (idx->dtype == ir::DType::kBool || idx->dtype == ir::DType::kUInt8) {
      ctx.unsupported("boolean-mask indexing has a data-dependent shape; not supported");
      return nullptr;
    }
    Value* v = int32_indices(ctx, idx, x->shape[d0 + j].size);  // PyTorch order
    if (!v) return nullptr;
    std::vector<int64_t> full(b_rank - idx->rank(), 1);
    for (const ir::Dim& d : idx->shape) full.push_back(d.size);
    v = ctx.reshape(v, full);
    if (full != bshape) {
      if (v->is_const()) {
        const auto vals = ir::to_int_vector(*v);
        const auto offsets = ir::broadcast_offsets(full, bshape);
        std::vector<int32_t> b(offsets.size());
        for (size_t e = 0; e < offsets.size(); ++e) b[e] = static_cast<int32_t>(vals[offsets[e]]);
        v = ctx.const_i32(b, bshape);
      } else {
        std::vector<int32_t> shape(bshape.begin(), bshape.end());
        Value* out = ctx.make_temp(ir::DType::kInt32, ir::static_shape(bshape));
        ctx.emit(ir::TflOp::BROADCAST_TO, {v, ctx.const_i32(shape, {b_rank})}, {out});
        v = out;
      }
    }
    parts.push_back(ctx.reshape(v, one));
  }
  std::vector<int64_t> cshape = bshape;
  cshape.push_back(k);
  if (std::all_of(parts.begin(), parts.end(), [](const Value* v) { return v->is_const(); })) {
    std::vector<int32_t> c(count * k);
    for (int j = 0; j < k; ++j) {
      const auto vals = ir::to_int_vector(*parts[j]);
      for (int64_t e = 0; e < count; ++e) c[e * k + j] = static_cast<int32_t>(vals[e]);
    }
    return ctx.const_i32(c, cshape);
  }
  Value* coords = ctx.make_temp(ir::DType::kInt32, ir::static_shape(cshape));
  ir::Node* cat = ctx.emit(ir::TflOp::CONCATENATION, parts, {coords});
  cat->set("axis", static_cast<int64_t>(b_rank));
  ir::set_fused_activation(*cat, ir::Activation::NONE);
  return coords;
}

// x's dims [d0, d0 + k) first, then the others in order.
Perm indexed_dims_first(int rank, int d0, int k) {
  Perm front;
  for (int j = 0; j < k; ++j) front.push_back(d0 + j);
  for (int d = 0; d < rank; ++d)
    if (d < d0 || d >= d0 + k) front.push_back(d);
  return front;
}

// The layout of a tensor stored [B..., pre..., post...] whose logical order is [pre, B, post] (the
// result of indexing dims [d0, ..) with b-dimensional indices).
Perm indexed_result_layout(int rank, int d0, int b_rank) {
  Perm layout;
  for (int i = 0; i < b_rank; ++i) layout.push_back(d0 + i);
  for (int d = 0; d < d0; ++d) layout.push_back(d);
  for (int d = d0 + b_rank; d < rank; ++d) layout.push_back(d);
  return layout;
}

// The index tensors of `n` as (first indexed dim, count), or nullopt after a diagnostic: several
// index tensors must sit on adjacent dims (otherwise PyTorch moves the indexed dims first).
std::optional<std::pair<int, int>> indexed_dims(LowerCtx& ctx, const std::vector<Value*>& indices) {
  int dim = -1, count = 0, last = -1;
  for (size_t i = 0; i < indices.size(); ++i) {
    if (!indices[i]) continue;
    if (dim < 0) dim = static_cast<int>(i);
    if (last >= 0 && static_cast<int>(i) != last + 1) {
      ctx.unsupported(
          "index tensors separated by a slice (PyTorch then moves the indexed dims first) are not supported");
      return std::nullopt;
    }
    last = static_cast<int>(i);
    ++count;
  }
  if (dim < 0) {
    ctx.unsupported("index with no index tensor");
    return std::nullopt;
  }
  return std::make_pair(dim, count);
}

// x[..., i0, i1, ...]: k > 1 index tensors on adjacent dims [d0, d0 + k), broadcast together to
// shape B. The indexed dims are moved to the front (a TRANSPOSE unless they lead already), one
// GATHER_ND with [B..., k] coordinates reads [B..., other dims...], and the result is bound with
// the layout that says so (PyTorch puts B in place of the indexed dims).
// lower_index_several with dynamic shapes (Hugging Face's padding mask, mask[batch_idx, kv_idx] with
// kv_idx an arange over the sequence): the same GATHER_ND, its coordinates broadcast to B and
// stacked with shapes computed at run time (builtin kernels).
void lower_index_several_dynamic(LowerCtx& ctx, const ir::Node& n, int d0, int k) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  const int b_rank = y->rank() - (rank - k);
  const ir::Shape bshape(y->shape.begin() + d0, y->shape.begin() + d0 + b_rank);
  ir::Shape one = bshape;
  one.push_back(ir::Dim{1, ""});
  Value* target = ctx.runtime_shape(bshape);
  Value* one_shape = ctx.runtime_shape(one);
  if (!target || !one_shape) return;
  auto reshaped = [&](Value* v, const ir::Shape& to, Value* shape) {
    Value* out = ctx.make_temp(v->dtype, to);
    ctx.emit(ir::TflOp::RESHAPE, {v, shape}, {out});
    return out;
  };
  std::vector<Value*> parts;
  for (int j = 0; j < k; ++j) {
    const Value* idx = n.get_tensors("indices")[d0 + j];
    if (idx->dtype == ir::DType::kBool || idx->dtype == ir::DType::kUInt8)
      return ctx.unsupported("boolean-mask indexing has a data-dependent shape; not supported");
    Value* v = int32_indices(ctx, idx, x->shape[d0 + j].size);
    if (!v) return;
    ir::Shape full(b_rank - idx->rank(), ir::Dim{1, ""});
    full.insert(full.end(), idx->shape.begin(), idx->shape.end());
    if (full != idx->shape) {
      Value* s = ctx.runtime_shape(full);
      if (!s) return;
      v = reshaped(v, full, s);
    }
    if (full != bshape) {
      Value* b = ctx.make_temp(ir::DType::kInt32, bshape);
      ctx.emit(ir::TflOp::BROADCAST_TO, {v, target}, {b});
      v = b;
    }
    parts.push_back(reshaped(v, one, one_shape));
  }
  ir::Shape cshape = bshape;
  cshape.push_back(ir::Dim{k, ""});
  Value* coords = ctx.make_temp(ir::DType::kInt32, cshape);
  ir::Node* c = ctx.emit(ir::TflOp::CONCATENATION, parts, {coords});
  c->set("axis", int64_t{b_rank});
  ir::set_fused_activation(*c, ir::Activation::NONE);
  ctx.emit(ir::TflOp::GATHER_ND, {ctx.get(x, indexed_dims_first(rank, d0, k)), coords},
           {ctx.make_output(y, indexed_result_layout(y->rank(), d0, b_rank))});
}

void lower_index_several(LowerCtx& ctx, const ir::Node& n, int d0, int k) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  if (!ir::is_fully_static(x->shape) || !ir::is_fully_static(y->shape))
    return lower_index_several_dynamic(ctx, n, d0, k);
  const int b_rank = y->rank() - (rank - k);
  std::vector<int64_t> bshape;
  for (int i = 0; i < b_rank; ++i) bshape.push_back(y->shape[d0 + i].size);
  Value* coords = index_coordinates(ctx, x, n.get_tensors("indices"), d0, k, bshape);
  if (!coords) return;
  ctx.emit(ir::TflOp::GATHER_ND, {ctx.get(x, indexed_dims_first(rank, d0, k)), coords},
           {ctx.make_output(y, indexed_result_layout(y->rank(), d0, b_rank))});
}

// index_put(self, indices, values, accumulate): x[idx...] = values (+= with accumulate). With x's
// indexed dims stored first, SCATTER_ND writes the values (broadcast to [B..., other dims...]) into
// zeros, summing repeated positions: accumulate adds that to x; otherwise a convert-time mask of the
// written positions selects them (SELECT_V2), which needs constant indices without repeats (PyTorch
// leaves the winner among repeats unspecified).
void lower_index_put(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  if (lower_index_put_block_write(ctx, n)) return;
  // Model state (a KV cache) is bound to one buffer for input and output: only a block write may
  // update it, never a scatter that reads the old value around the written rows.
  if (x->is_state) return ctx.unsupported(kStateWriteNotContiguous);
  const Value* vals = n.get_tensor("values");
  const Value* y = n.outputs.at(0);
  const auto& indices = n.get_tensors("indices");
  const bool accumulate = n.find("accumulate") && n.get_bool("accumulate");
  const int rank = x->rank();
  if (!ir::is_fully_static(x->shape) || !ir::is_fully_static(vals->shape))
    return ctx.unsupported("index_put needs static shapes");
  if (x->dtype != ir::DType::kFloat32 && x->dtype != ir::DType::kInt32)
    return ctx.unsupported("index_put on float32 / int32 only");
  const auto dims = indexed_dims(ctx, indices);
  if (!dims) return;
  const auto [d0, k] = *dims;
  // B: the index tensors' broadcast shape.
  std::vector<int64_t> bshape;
  for (int j = 0; j < k; ++j) {
    const Value* idx = indices[d0 + j];
    if (!ir::is_fully_static(idx->shape)) return ctx.unsupported("index_put needs static index shapes");
    std::vector<int64_t> s = ir::sizes_of(idx->shape);
    if (s.size() > bshape.size()) bshape.insert(bshape.begin(), s.size() - bshape.size(), 1);
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& b = bshape[bshape.size() - s.size() + i];
      b = b == 1 ? s[i] : b;
    }
  }
  const int b_rank = static_cast<int>(bshape.size());
  Value* coords = index_coordinates(ctx, x, indices, d0, k, bshape);
  if (!coords) return;
  if (!accumulate && !coords->is_const())
    return ctx.unsupported(
        "index_put without accumulate needs constant indices (repeated run-time positions have no defined winner)");
  // The updates, [pre, B, post] in PyTorch order broadcast from `values`, stored [B, pre, post].
  std::vector<int64_t> logical;
  for (int d = 0; d < d0; ++d) logical.push_back(x->shape[d].size);
  logical.insert(logical.end(), bshape.begin(), bshape.end());
  for (int d = d0 + k; d < rank; ++d) logical.push_back(x->shape[d].size);
  Value* v = ctx.cast(ctx.get(vals, {}), x->dtype);
  std::vector<int64_t> vfull(logical.size() - vals->rank(), 1);
  for (const ir::Dim& d : vals->shape) vfull.push_back(d.size);
  v = ctx.reshape(v, vfull);
  if (vfull != logical) {
    std::vector<int32_t> shape(logical.begin(), logical.end());
    Value* b = ctx.make_temp(x->dtype, ir::static_shape(logical));
    ctx.emit(ir::TflOp::BROADCAST_TO, {v, ctx.const_i32(shape, {static_cast<int64_t>(shape.size())})}, {b});
    v = b;
  }
  Perm to_stored;
  for (int d : indexed_result_layout(static_cast<int>(logical.size()), d0, b_rank)) to_stored.push_back(d);
  Value* updates = ctx.transpose(v, to_stored);
  const Perm front = indexed_dims_first(rank, d0, k);
  Value* xt = ctx.get(x, front);
  std::vector<int32_t> xshape;
  for (const ir::Dim& d : xt->shape) xshape.push_back(static_cast<int32_t>(d.size));
  Value* scattered = ctx.make_temp(x->dtype, xt->shape);
  ctx.emit(ir::TflOp::SCATTER_ND, {coords, updates, ctx.const_i32(xshape, {rank})}, {scattered});
  if (accumulate) return void(emit_elementwise(ctx, ir::TflOp::ADD, {xt, scattered}, ctx.make_output(y, front)));
  // Convert-time mask of the written positions of xt ([K..., rest...], row-major).
  const auto c = ir::to_int_vector(*coords);
  const int64_t positions = static_cast<int64_t>(c.size()) / k;
  int64_t inner = 1, outer = 1;
  for (int d = k; d < rank; ++d) inner *= xt->shape[d].size;
  for (int d = 0; d < k; ++d) outer *= xt->shape[d].size;
  std::vector<uint8_t> mask(outer * inner, 0);
  for (int64_t p = 0; p < positions; ++p) {
    int64_t at = 0;
    for (int j = 0; j < k; ++j) at = at * xt->shape[j].size + c[p * k + j];
    if (mask[at * inner]) return ctx.unsupported("index_put without accumulate writes one position twice");
    std::fill(mask.begin() + at * inner, mask.begin() + (at + 1) * inner, 1);
  }
  Value* m = ctx.new_const(ir::DType::kBool, xt->shape, std::move(mask));
  ctx.emit(ir::TflOp::SELECT_V2, {m, scattered, xt}, {ctx.make_output(y, front)});
}

// x[..., idx, ...]: one integer index tensor after some full slices (None entries); several on
// adjacent dims go to lower_index_several.
void lower_index(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const auto& indices = n.get_tensors("indices");
  const auto dims = indexed_dims(ctx, indices);
  if (!dims) return;
  if (dims->second > 1) return lower_index_several(ctx, n, dims->first, dims->second);
  const int dim = dims->first;
  const Value* idx = indices[dim];
  if (idx->dtype == ir::DType::kBool || idx->dtype == ir::DType::kUInt8)
    return ctx.unsupported("boolean-mask indexing has a data-dependent shape; not supported");
  Value* positions = gather_positions(ctx, idx, x->shape.at(dim).size);
  if (!positions) return;
  if (idx->rank() == 1) {  // the output keeps x's layout, with the indexed dim resized
    const Perm layout = ctx.layout_of(x);
    return emit_gather(ctx, ctx.get_any(x), stored_axis(layout, dim), positions, ctx.make_output(y, layout));
  }
  emit_gather(ctx, ctx.get(x, {}), dim, positions, ctx.make_output(y));
}

// index_select(self, dim, index): GATHER along the stored axis of `dim`, keeping x's layout.
void lower_index_select(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* idx = n.get_tensor("index");
  const int dim = normalize_dim(n.get_int("dim"), x->rank());
  if (idx->rank() > 1) return ctx.unsupported("index_select with a multi-dimensional index");
  Value* positions = gather_positions(ctx, idx, x->shape.at(dim).size);
  if (!positions) return;
  positions = ctx.reshape(positions, {ir::num_elements(idx->shape)});
  const Perm layout = ctx.layout_of(x);
  emit_gather(ctx, ctx.get_any(x), stored_axis(layout, dim), positions, ctx.make_output(n.outputs.at(0), layout));
}

// Coordinates of every element of a row-major tensor of `sizes`, as [numel, rank] int32,
// with coordinate `dim` replaced by `dim_index[e]` (torch.gather's addressing).
std::vector<int32_t> gather_coordinates(const std::vector<int64_t>& sizes, int dim,
                                        const std::vector<int64_t>* dim_index) {
  const int rank = static_cast<int>(sizes.size());
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  std::vector<int32_t> out(numel * rank);
  std::vector<int64_t> at(rank, 0);
  for (int64_t e = 0; e < numel; ++e) {
    for (int k = 0; k < rank; ++k) out[e * rank + k] = static_cast<int32_t>(at[k]);
    if (dim_index) out[e * rank + dim] = static_cast<int32_t>((*dim_index)[e]);
    for (int k = rank - 1; k >= 0; --k) {
      if (++at[k] < sizes[k]) break;
      at[k] = 0;
    }
  }
  return out;
}

// torch.gather with a dynamic index where every dim but `dim` is 1 in both operands (BERT's
// token_type_ids buffer gathered at position_ids): out[..., j, ...] = self[index[..., j, ...]], a
// GATHER of the flattened self along axis 0, whose result has the index's shape.
void lower_dynamic_gather(LowerCtx& ctx, const Value* x, const Value* idx, const Value* y, int dim) {
  auto ones_but_dim = [&](const Value* v) {
    for (int d = 0; d < v->rank(); ++d)
      if (d != dim && !(v->shape[d].is_static() && v->shape[d].size == 1)) return false;
    return true;
  };
  if (!ir::is_fully_static(x->shape) || x->rank() != idx->rank() || !ones_but_dim(x) || !ones_but_dim(idx))
    return ctx.unsupported("gather with dynamic shapes is supported only when every dim but the gathered one is 1");
  Value* flat = ctx.reshape(ctx.get(x, {}), {x->shape[dim].size});
  // PyTorch takes negative indices from the end; GATHER does not: wrap them first (FLOOR_MOD).
  Value* index = ctx.get(idx, {});
  if (!ctx.constant(idx))
    index = emit_elementwise(ctx, ir::TflOp::FLOOR_MOD, {index, ctx.scalar(index->dtype, double(x->shape[dim].size))});
  ir::Node* g = ctx.emit(ir::TflOp::GATHER, {flat, index}, {ctx.make_output(y)});
  g->set("axis", int64_t{0});
}

// torch.gather(self, dim, index): out[i] = self[i with i[dim] := index[i]] → GATHER_ND with
// [*index.shape, rank] coordinates; folded when both operands are constants (position-id and
// token-type buffers in BERT-style embeddings).
void lower_gather(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* idx = n.get_tensor("index");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  const int dim = normalize_dim(n.get_int("dim"), rank);
  if (!ir::is_fully_static(idx->shape) || !ir::is_fully_static(x->shape))
    return lower_dynamic_gather(ctx, x, idx, y, dim);
  const std::vector<int64_t> sizes = ir::sizes_of(idx->shape);
  const int64_t numel = ir::num_elements(idx->shape);
  Value* xc = ctx.constant(x);
  Value* ic = ctx.constant(idx);
  for (int d = 0; d < rank; ++d)  // PyTorch's rule; the coordinates below rely on it
    if (d != dim && (idx->rank() != rank || idx->shape[d].size > x->shape[d].size))
      return ctx.unsupported("gather's index must have self's rank and be no larger than self outside dim");
  if (ic) {
    std::vector<int64_t> positions = ir::to_int_vector(*ic);
    const int64_t extent = x->shape[dim].size;
    for (int64_t& p : positions) {
      if (p < 0) p += extent;
      if (p < 0 || p >= extent)
        return ctx.unsupported("constant gather index out of range for a dim of size " + std::to_string(extent));
    }
    std::vector<int32_t> coords = gather_coordinates(sizes, dim, &positions);
    if (xc) {  // fold: copy the addressed elements
      const size_t es = ir::dtype_size(x->dtype);
      const auto src = xc->data->bytes();
      const std::vector<int64_t> xs = ir::sizes_of(x->shape);
      std::vector<uint8_t> out(numel * es);
      for (int64_t e = 0; e < numel; ++e) {
        int64_t offset = 0;
        for (int k = 0; k < rank; ++k) offset = offset * xs[k] + coords[e * rank + k];
        std::memcpy(out.data() + e * es, src.data() + offset * es, es);
      }
      return ctx.bind(y, ctx.new_const(x->dtype, idx->shape, std::move(out)));
    }
    std::vector<int64_t> cshape = sizes;
    cshape.push_back(rank);
    ctx.emit(ir::TflOp::GATHER_ND, {ctx.get(x, {}), ctx.const_i32(coords, cshape)}, {ctx.make_output(y)});
    return;
  }
  // Run-time index: constant coordinate grids with the index spliced in as coordinate `dim`.
  std::vector<int32_t> grid = gather_coordinates(sizes, dim, nullptr);
  std::vector<int64_t> one = sizes;
  one.push_back(1);
  std::vector<Value*> parts;
  for (int k = 0; k < rank; ++k) {
    if (k == dim) {
      Value* v = int32_indices(ctx, idx, x->shape[dim].size);
      if (!v) return;
      parts.push_back(ctx.reshape(v, one));
      continue;
    }
    std::vector<int32_t> coord(numel);
    for (int64_t e = 0; e < numel; ++e) coord[e] = grid[e * rank + k];
    parts.push_back(ctx.const_i32(coord, one));
  }
  std::vector<int64_t> cshape = sizes;
  cshape.push_back(rank);
  Value* coords = ctx.make_temp(ir::DType::kInt32, ir::static_shape(cshape));
  ir::Node* c = ctx.emit(ir::TflOp::CONCATENATION, parts, {coords});
  c->set("axis", int64_t{static_cast<int64_t>(sizes.size())});
  ir::set_fused_activation(*c, ir::Activation::NONE);
  ctx.emit(ir::TflOp::GATHER_ND, {ctx.get(x, {}), coords}, {ctx.make_output(y)});
}

// x.item() on a one-element int tensor: the value stays a tensor (int32 [1]) that slices sized by
// its symbol read at run time (the reader made the scalar a 0-d value with that symbol).
void lower_item(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  if (ir::is_floating(x->dtype) || !ir::is_fully_static(x->shape) || ir::num_elements(x->shape) != 1)
    return ctx.unsupported(
        ".item() of a floating-point or multi-element tensor is not supported (only an integer "
        "used as a run-time size)");
  Value* v = ctx.reshape(ctx.cast(ctx.get(x, {}), ir::DType::kInt32), {1});
  ctx.define_runtime_size(n.get_string("symbol"), v);
  // As a tensor the scalar is what the reader declared, int64 []; nothing a valid model has reads it
  // so (a RESHAPE and a CAST that are dropped unless a malformed graph does).
  ctx.bind(n.outputs.at(0), ctx.cast(ctx.reshape(v, std::vector<int64_t>{}), n.outputs.at(0)->dtype));
}

}  // namespace

void register_index_rules(Registry& r) {
  r.add("aten._local_scalar_dense.default", lower_item, "CAST, RESHAPE",
        "an integer `.item()` used as a run-time size (`x[:, :n]`); torch._check on it is left out (LiteRT's kernels "
        "check their own bounds)");
  r.add("aten.slice.Tensor", lower_slice, "(none), SLICE, RESHAPE + SLICE + RESHAPE, STRIDED_SLICE",
        "in the stored layout; the whole dim is free; step > 1 → one position of [count, step] groups "
        "(RESHAPE + SLICE, PAD first when the last group is cut short); STRIDED_SLICE (not delegated to "
        "XNNPACK) only for dynamic shapes");
  r.add("aten.select.int", lower_select, "SLICE + RESHAPE", "never STRIDED_SLICE with a shrink mask");
  r.add("aten.split_with_sizes.default", lower_split_with_sizes, "SPLIT, SLICE",
        "equal pieces → one SPLIT; otherwise one SLICE per used piece");
  r.add("aten.gather.default", lower_gather, "(folded) / GATHER_ND",
        "folded when self and index are constants; otherwise GATHER_ND (not delegated to XNNPACK)");
  r.add("aten.index_select.default", lower_index_select, "GATHER", "1-D index; in the input's layout");
  r.add("aten.embedding.default", lower_embedding, "GATHER",
        "int64 ids used as they are; constant indices narrowed to int32");
  r.add("aten.index_put.default", lower_index_put, "DYNAMIC_UPDATE_SLICE, or SCATTER_ND + ADD / SELECT_V2",
        "a block of consecutive rows at arange(T) + start on one dim → DYNAMIC_UPDATE_SLICE (KV-cache writes; "
        "the only write allowed into a model input); otherwise index tensors on adjacent dims; accumulate → ADD of the "
        "scattered values; otherwise constant indices "
        "without repeats and a convert-time mask (SELECT_V2); float32 / int32; not delegated to XNNPACK");
  r.add("aten.index.Tensor", lower_index, "GATHER, GATHER_ND",
        "one integer index tensor (leading full slices allowed) → GATHER; several on adjacent dims → GATHER_ND of "
        "the indexed dims moved first (not delegated to XNNPACK); constant negative indices wrapped, run-time "
        "negative indices are rejected by TFLite");
}

}  // namespace pt2tflite::lower
