// Ordering: topk and sort → TOPK_V2 over the sorted dim, stored last (one TRANSPOSE when it is
// not). Smallest-first orders negate the input and the values. Indices come out as int32 and are
// cast to PyTorch's int64 only when used.
#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// (values, indices) of the k largest (or smallest) elements of `x` along logical `dim`, sorted.
void emit_topk(LowerCtx& ctx, const ir::Node& n, const Value* x, int64_t dim, int64_t k, bool largest) {
  const int rank = x->rank();
  if (rank == 0) return ctx.unsupported("topk/sort of a 0-d tensor is not supported");
  if (!ir::is_fully_static(x->shape)) return ctx.unsupported("topk/sort needs static shapes");
  if (x->dtype != ir::DType::kFloat32 && x->dtype != ir::DType::kInt32)
    return ctx.unsupported("TOPK_V2 takes float32 and int32 tensors only");
  if (dim < 0) dim += rank;
  if (k < 0 || k > x->shape[dim].size) return ctx.unsupported("k is out of range");
  std::vector<int64_t> want = ir::sizes_of(x->shape);  // both outputs: the input's shape, k along dim
  want[dim] = k;
  for (const Value* out : n.outputs)
    if (out && (!ir::is_fully_static(out->shape) || ir::sizes_of(out->shape) != want))
      return ctx.unsupported("declared output shape " + ir::shape_to_string(out->shape) + " is not the input's with " +
                             std::to_string(k) + " along dim " + std::to_string(dim));
  // The stored layout with `dim` moved last (the input's own when it is already last).
  Perm layout = ctx.layout_of(x);
  if (layout.empty()) layout = identity_perm(rank);
  if (layout.back() != dim) {
    std::erase(layout, static_cast<int>(dim));
    layout.push_back(static_cast<int>(dim));
  }
  Value* in = ctx.get(x, layout);
  if (!largest) in = emit_elementwise(ctx, ir::TflOp::NEG, {in});
  ir::Shape out_shape = in->shape;
  out_shape.back().size = k;
  const Value* values = n.outputs.at(0);
  const Value* indices = n.outputs.size() > 1 ? n.outputs[1] : nullptr;
  const bool want_values = values && ctx.uses(values) > 0;
  const bool want_indices = indices && ctx.uses(indices) > 0;
  Value* v = largest && want_values ? ctx.make_output(values, layout) : ctx.make_temp(in->dtype, out_shape);
  Value* i32 = indices && indices->dtype == ir::DType::kInt32 && want_indices
                   ? ctx.make_output(indices, layout)
                   : ctx.make_temp(ir::DType::kInt32, out_shape);
  const int32_t kk = static_cast<int32_t>(k);
  ctx.emit(ir::TflOp::TOPK_V2, {in, ctx.const_i32(std::span(&kk, 1), {})}, {v, i32});
  if (!largest && want_values) emit_elementwise(ctx, ir::TflOp::NEG, {v}, ctx.make_output(values, layout));
  if (want_indices && indices->dtype != ir::DType::kInt32) ctx.bind(indices, ctx.cast(i32, indices->dtype), layout);
}

void lower_topk(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const int64_t dim = n.find("dim") ? n.get_int("dim") : -1;
  const bool largest = n.find("largest") ? n.get_bool("largest") : true;
  emit_topk(ctx, n, x, dim, n.get_int("k"), largest);
}

void lower_sort(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  int64_t dim = n.find("dim") ? n.get_int("dim") : -1;
  const bool descending = n.find("descending") ? n.get_bool("descending") : false;
  if (x->rank() > 0) {
    if (dim < 0) dim += x->rank();
    if (dim >= 0 && dim < x->rank() && x->shape[dim].is_static())
      return emit_topk(ctx, n, x, dim, x->shape[dim].size, descending);
  }
  ctx.unsupported("sort needs a static dim");
}

}  // namespace

void register_sort_rules(Registry& r) {
  const char* note =
      "float32 / int32; the dim is stored last (TRANSPOSE if needed); smallest-first negates; "
      "int32 indices cast to int64 when used; not delegated to XNNPACK";
  r.add("aten.topk.default", lower_topk, "TOPK_V2 (+NEG, CAST)", std::string("sorted; ") + note);
  r.add("aten.sort.default", lower_sort, "TOPK_V2 (+NEG, CAST)",
        std::string("k = the dim's size; the order of equal elements may differ from PyTorch's; ") + note);
}

}  // namespace pt2tflite::lower
