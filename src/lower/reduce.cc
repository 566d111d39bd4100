// Reductions over dims: mean / sum / amax / amin → MEAN / SUM / REDUCE_MAX / REDUCE_MIN, var from
// MEANs, argmax / argmin / max.dim / min.dim → ARG_MAX / ARG_MIN, and the cumsum scan → CUMSUM, computed in the input's
// stored layout (the reduced axes are mapped through it).
#include <algorithm>

#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// The reduced logical dims of node `n` ("dim": a list, absent/None/empty = all), normalized.
std::vector<int64_t> reduced_dims(const ir::Node& n, int rank) {
  std::vector<int64_t> dims;
  if (const ir::Attr* d = n.find("dim"); d && std::holds_alternative<std::vector<int64_t>>(*d))
    dims = std::get<std::vector<int64_t>>(*d);
  if (dims.empty())
    for (int i = 0; i < rank; ++i) dims.push_back(i);
  for (int64_t& d : dims)
    if (d < 0) d += rank;
  return dims;
}

// Stored axes of logical `dims` under `layout`.
std::vector<int32_t> stored_axes(const std::vector<int64_t>& dims, const Perm& layout, int rank) {
  const Perm full = layout.empty() ? identity_perm(rank) : layout;
  std::vector<int32_t> axes;
  for (int p = 0; p < rank; ++p)
    if (std::count(dims.begin(), dims.end(), full[p])) axes.push_back(p);
  return axes;
}

// The layout of a reduction's output: keepdim keeps the input's; otherwise the surviving dims
// keep their stored order, renumbered.
Perm reduced_layout(const std::vector<int64_t>& dims, const Perm& layout, int rank, bool keepdim) {
  if (keepdim || layout.empty()) return layout;
  Perm out;
  for (int d : layout) {
    if (std::count(dims.begin(), dims.end(), d)) continue;
    out.push_back(d - static_cast<int>(std::count_if(dims.begin(), dims.end(), [d](int64_t r) { return r < d; })));
  }
  return normalized(out, rank - static_cast<int>(dims.size()));
}

ir::Node* emit_reduce(LowerCtx& ctx, ir::TflOp op, Value* in, const std::vector<int32_t>& axes, bool keepdim,
                      Value* out) {
  ir::Node* r = ctx.emit(op, {in, ctx.const_i32(axes, {static_cast<int64_t>(axes.size())})}, {out});
  r->set("keep_dims", keepdim);
  return r;
}

void lower_reduce(LowerCtx& ctx, const ir::Node& n, ir::TflOp op) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  const auto dims = reduced_dims(n, rank);
  const bool keepdim = n.find("keepdim") ? n.get_bool("keepdim") : false;
  if (!n.is_none("dtype") && n.get_int("dtype") != 7 /* float32 */)
    return ctx.unsupported("reductions with a dtype other than float32 are not supported yet");
  const Perm layout = ctx.layout_of(x);
  Value* out = ctx.make_output(y, reduced_layout(dims, layout, rank, keepdim));
  emit_reduce(ctx, op, ctx.get_any(x), stored_axes(dims, layout, rank), keepdim, out);
}

// var(x, dim, correction) = sum((x - mean)²) / (N - correction), as MEAN · N / (N - correction).
void lower_var(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  if (!ir::is_floating(x->dtype) || !ir::is_fully_static(x->shape))
    return ctx.unsupported("var needs a static float tensor");
  const auto dims = reduced_dims(n, rank);
  const bool keepdim = n.get_bool("keepdim");
  const double correction = n.is_none("correction") ? 1.0 : n.get_float("correction");
  int64_t count = 1;
  for (int64_t d : dims) count *= x->shape[d].size;
  if (count - correction <= 0) return ctx.unsupported("var with correction >= the number of elements (inf/NaN)");
  const Perm layout = ctx.layout_of(x);
  const auto axes = stored_axes(dims, layout, rank);
  Value* in = ctx.get_any(x);
  ir::Shape kept = in->shape;
  for (int32_t a : axes) kept[a].size = 1;
  Value* mean = ctx.make_temp(in->dtype, kept);
  emit_reduce(ctx, ir::TflOp::MEAN, in, axes, true, mean);
  Value* dev = emit_elementwise(ctx, ir::TflOp::SUB, {in, mean});
  Value* sq = emit_elementwise(ctx, ir::TflOp::MUL, {dev, dev});
  const Perm out_layout = reduced_layout(dims, layout, rank, keepdim);
  const double rescale = static_cast<double>(count) / (static_cast<double>(count) - correction);
  Value* out = ctx.make_output(y, out_layout);
  if (rescale == 1.0) return void(emit_reduce(ctx, ir::TflOp::MEAN, sq, axes, keepdim, out));
  Value* m = ctx.make_temp(y->dtype, physical_shape(y->shape, out_layout));
  emit_reduce(ctx, ir::TflOp::MEAN, sq, axes, keepdim, m);
  emit_elementwise(ctx, ir::TflOp::MUL, {m, ctx.scalar(y->dtype, rescale)}, out);
}

// cumsum along one dim; integer inputs accumulate in the output dtype (int64 by default).
void lower_cumsum(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  if (y->dtype != ir::DType::kFloat32 && y->dtype != ir::DType::kInt32 && y->dtype != ir::DType::kInt64)
    return ctx.unsupported("CUMSUM takes float32, int32 and int64 only");
  int64_t dim = n.get_int("dim");
  if (dim < 0) dim += rank;
  const Perm layout = ctx.layout_of(x);
  const int32_t axis = stored_axes({dim}, layout, rank).at(0);
  Value* in = ctx.cast(ctx.get_any(x), y->dtype);
  ir::Node* c = ctx.emit(ir::TflOp::CUMSUM, {in, ctx.const_i32(std::span(&axis, 1), {})}, {ctx.make_output(y, layout)});
  c->set("exclusive", false);
  c->set("reverse", false);
}

// ARG_MAX / ARG_MIN of stored tensor `in` over stored `axis` into ATen value `y` (int64), keeping
// the reduced dim as size 1 when `keepdim`; `layout` is the input's. Ties give the first index,
// as in PyTorch.
void lower_arg_into(LowerCtx& ctx, ir::TflOp op, Value* in, int32_t axis, bool keepdim, const Perm& layout, int64_t dim,
                    const Value* y) {
  if (!y || ctx.uses(y) == 0) return;
  const int rank = in->rank();
  ir::Shape reduced = in->shape;
  reduced.erase(reduced.begin() + axis);
  Value* idx = keepdim ? ctx.make_temp(ir::DType::kInt64, reduced)
                       : ctx.make_output(y, reduced_layout({dim}, layout, rank, false));
  ir::Node* a = ctx.emit(op, {in, ctx.const_i32(std::span(&axis, 1), {1})}, {idx});
  a->set("output_type", static_cast<int64_t>(ir::DType::kInt64));
  if (!keepdim) return;
  std::vector<int64_t> kept = ir::sizes_of(in->shape);
  kept[axis] = 1;
  ctx.bind(y, ctx.reshape(idx, kept), layout);
}

// argmax / argmin (dim None: over the flattened tensor in PyTorch order).
void lower_arg(LowerCtx& ctx, const ir::Node& n, ir::TflOp op) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const bool keepdim = n.find("keepdim") ? n.get_bool("keepdim") : false;
  if (!ir::is_fully_static(x->shape)) return ctx.unsupported("argmax/argmin needs static shapes");
  if (x->dtype == ir::DType::kBool) return ctx.unsupported("argmax/argmin of a bool tensor is not supported");
  if (n.is_none("dim") || x->rank() == 0) {
    Value* flat = ctx.reshape(ctx.get(x, {}), {ir::num_elements(x->shape)});
    Value* idx = keepdim || x->rank() == 0 ? ctx.make_temp(ir::DType::kInt64, {}) : ctx.make_output(y);
    const int32_t axis = 0;
    ctx.emit(op, {flat, ctx.const_i32(std::span(&axis, 1), {1})}, {idx})
        ->set("output_type", static_cast<int64_t>(ir::DType::kInt64));
    if (keepdim || x->rank() == 0) ctx.bind(y, ctx.reshape(idx, ir::sizes_of(y->shape)));
    return;
  }
  const int rank = x->rank();
  int64_t dim = n.get_int("dim");
  if (dim < 0) dim += rank;
  const Perm layout = ctx.layout_of(x);
  const int32_t axis = stored_axes({dim}, layout, rank).at(0);
  lower_arg_into(ctx, op, ctx.get_any(x), axis, keepdim, layout, dim, y);
}

void lower_argmax(LowerCtx& ctx, const ir::Node& n) { lower_arg(ctx, n, ir::TflOp::ARG_MAX); }
void lower_argmin(LowerCtx& ctx, const ir::Node& n) { lower_arg(ctx, n, ir::TflOp::ARG_MIN); }

// max.dim / min.dim: (values, indices) = REDUCE_MAX / REDUCE_MIN and ARG_MAX / ARG_MIN.
void lower_max_min_dim(LowerCtx& ctx, const ir::Node& n, ir::TflOp reduce, ir::TflOp arg) {
  const Value* x = n.get_tensor("self");
  if (!ir::is_fully_static(x->shape)) return ctx.unsupported("max.dim/min.dim needs static shapes");
  const int rank = x->rank();
  int64_t dim = n.get_int("dim");
  if (dim < 0) dim += rank;
  const bool keepdim = n.find("keepdim") ? n.get_bool("keepdim") : false;
  const Perm layout = ctx.layout_of(x);
  Value* in = ctx.get_any(x);
  const int32_t axis = stored_axes({dim}, layout, rank).at(0);
  if (const Value* values = n.outputs.at(0); values && ctx.uses(values) > 0) {
    Value* out = ctx.make_output(values, reduced_layout({dim}, layout, rank, keepdim));
    emit_reduce(ctx, reduce, in, {axis}, keepdim, out);
  }
  if (n.outputs.size() > 1) lower_arg_into(ctx, arg, in, axis, keepdim, layout, dim, n.outputs[1]);
}

void lower_max_dim(LowerCtx& ctx, const ir::Node& n) {
  lower_max_min_dim(ctx, n, ir::TflOp::REDUCE_MAX, ir::TflOp::ARG_MAX);
}
void lower_min_dim(LowerCtx& ctx, const ir::Node& n) {
  lower_max_min_dim(ctx, n, ir::TflOp::REDUCE_MIN, ir::TflOp::ARG_MIN);
}

void lower_mean(LowerCtx& ctx, const ir::Node& n) { lower_reduce(ctx, n, ir::TflOp::MEAN); }
void lower_sum(LowerCtx& ctx, const ir::Node& n) { lower_reduce(ctx, n, ir::TflOp::SUM); }
void lower_amax(LowerCtx& ctx, const ir::Node& n) { lower_reduce(ctx, n, ir::TflOp::REDUCE_MAX); }
void lower_amin(LowerCtx& ctx, const ir::Node& n) { lower_reduce(ctx, n, ir::TflOp::REDUCE_MIN); }

}  // namespace

void register_reduce_rules(Registry& r) {
  const char* note = "axes mapped through the stored layout";
  r.add("aten.mean.dim", lower_mean, "MEAN", note);
  r.add("aten.mean.default", lower_mean, "MEAN", "all dims");
  r.add("aten.sum.dim_IntList", lower_sum, "SUM", note);
  r.add("aten.sum.default", lower_sum, "SUM", "all dims");
  r.add("aten.amax.default", lower_amax, "REDUCE_MAX", note);
  r.add("aten.amin.default", lower_amin, "REDUCE_MIN", note);
  // torch.max(x) / torch.min(x) without a dim: the value over all elements (Hugging Face's longrope
  // RoPE takes max(position_ids) to pick its frequencies).
  r.add("aten.max.default", lower_amax, "REDUCE_MAX", "all dims");
  r.add("aten.min.default", lower_amin, "REDUCE_MIN", "all dims");
  r.add("aten.argmax.default", lower_argmax, "ARG_MAX",
        "int64 indices, first index on ties; dim None: the flattened tensor; not delegated to XNNPACK");
  r.add("aten.argmin.default", lower_argmin, "ARG_MIN",
        "int64 indices, first index on ties; dim None: the flattened tensor; not delegated to XNNPACK");
  r.add("aten.max.dim", lower_max_dim, "REDUCE_MAX + ARG_MAX", "indices only when used; " + std::string(note));
  r.add("aten.min.dim", lower_min_dim, "REDUCE_MIN + ARG_MIN", "indices only when used; " + std::string(note));
  r.add("aten.var.correction", lower_var, "MEAN, SUB, MUL",
        "two MEANs, rescaled by N / (N - correction); static shapes");
  r.add("aten.cumsum.default", lower_cumsum, "CUMSUM",
        "axis mapped through the stored layout; not delegated to XNNPACK");
}

}  // namespace pt2tflite::lower
