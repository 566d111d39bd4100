// Writes into tensors, as functionalization leaves them: slice_scatter (x[..., a:b] = src) and
// copy (x.copy_(src)). Swin's shifted-window masks are built this way, from constants, so the
// constant case folds at convert time; a run-time slice_scatter is a CONCATENATION (with a
// RESHAPE regrouping for step > 1, as in YOLO's pose head y[:, 2::3] = ...sigmoid()).
#include <algorithm>
#include <cstring>

#include "ir/constants.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

void concat(LowerCtx& ctx, const std::vector<Value*>& parts, int axis, Value* out) {
  ir::Node* c = ctx.emit(ir::TflOp::CONCATENATION, parts, {out});
  c->set("axis", static_cast<int64_t>(axis));
  ir::set_fused_activation(*c, ir::Activation::NONE);
}

// `region` (rows start .. start + span of x along `dim`) with rows 0, step, 2·step, ... replaced by
// the `count` rows of `src`: the region, padded to count·step rows, seen as [.., count, step, ..]
// has src at position 0 of the step axis. SLICE, RESHAPE, PAD and CONCATENATION only (XNNPACK
// takes them all).
Value* interleave_rows(LowerCtx& ctx, Value* region, Value* src, int dim, int64_t count, int64_t step) {
  const int64_t span = region->shape[dim].size, full = count * step;
  if (span < full) {  // the last group is cut short: pad it (the padding is cut off again below)
    std::vector<int32_t> pads(2 * region->rank(), 0);
    pads[2 * dim + 1] = static_cast<int32_t>(full - span);
    ir::Shape s = region->shape;
    s[dim].size = full;
    Value* padded = ctx.make_temp(region->dtype, s);
    ctx.emit(ir::TflOp::PAD, {region, ctx.const_i32(pads, {region->rank(), 2})}, {padded});
    region = padded;
  }
  std::vector<int64_t> grouped = ir::sizes_of(region->shape);
  grouped[dim] = step;
  grouped.insert(grouped.begin() + dim, count);
  std::vector<int64_t> src_grouped = grouped;
  src_grouped[dim + 1] = 1;
  Value* rest = ctx.slice(ctx.reshape(region, grouped), dim + 1, 1, step - 1);
  ir::Shape merged_shape = rest->shape;
  merged_shape[dim + 1].size = step;
  Value* merged = ctx.make_temp(region->dtype, merged_shape);
  concat(ctx, {ctx.reshape(src, src_grouped), rest}, dim + 1, merged);
  Value* rows = ctx.reshape(merged, ir::sizes_of(region->shape));
  return span < full ? ctx.slice(rows, dim, 0, span) : rows;
}

void lower_slice_scatter(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* src = n.get_tensor("src");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  int64_t dim = n.get_int("dim");
  if (dim < 0) dim += rank;
  if (!ir::is_fully_static(x->shape)) return ctx.unsupported("slice_scatter with dynamic shapes is not supported yet");
  for (const char* a : {"start", "end"})
    if (const ir::Attr* v = n.find(a); v && std::holds_alternative<ir::SymRef>(*v))
      return ctx.unsupported("slice_scatter with a run-time start or end is not supported");
  const int64_t size = x->shape[dim].size, step = n.get_int("step");
  auto bound = [&](const char* arg, int64_t dflt) {
    int64_t v = n.is_none(arg) ? dflt : n.get_int(arg);
    if (v < 0) v += size;
    return std::clamp<int64_t>(v, 0, size);
  };
  const int64_t start = bound("start", 0), end = bound("end", size), count = src->shape.at(dim).size;
  // src must be exactly the slice x[start:end:step] along dim and x elsewhere (PyTorch's rule): the
  // writes below are addressed by x's sizes (a fuzzed src wrote past the folded copy's end).
  std::vector<int64_t> want = ir::sizes_of(x->shape);
  want[dim] = end > start ? (end - start + step - 1) / step : 0;
  if (step < 1 || !ir::is_fully_static(src->shape) || src->rank() != rank || ir::sizes_of(src->shape) != want)
    return ctx.unsupported("src " + ir::shape_to_string(src->shape) + " is not the shape of the slice it replaces");
  Value* xc = ctx.constant(x);
  Value* sc = ctx.constant(src);
  if (xc && sc) {  // fold: copy src's rows over x's at start, start + step, ...
    const size_t es = ir::dtype_size(x->dtype);
    const auto xs = ir::sizes_of(x->shape);
    int64_t inner = 1, outer = 1;
    for (int d = rank - 1; d > dim; --d) inner *= xs[d];
    for (int d = 0; d < dim; ++d) outer *= xs[d];
    std::vector<uint8_t> out(xc->data->bytes().begin(), xc->data->bytes().end());
    auto s = ctx.cast(sc, x->dtype)->data->bytes();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < count; ++i)
        std::memcpy(out.data() + ((o * size + start + i * step) * inner) * es,
                    s.data() + ((o * count + i) * inner) * es, inner * es);
    return ctx.bind(y, ctx.new_const(x->dtype, x->shape, std::move(out)));
  }
  if (count == 0) return ctx.bind(y, ctx.get_any(x), ctx.layout_of(x));
  // [x before start | the written region | x after it], concatenated in PyTorch order.
  Value* xv = ctx.get(x, {});
  const int d = static_cast<int>(dim);
  Value* written = ctx.cast(ctx.get(src, {}), x->dtype);
  const int64_t span = step == 1 ? count : std::min(count * step, size - start);
  if (step > 1) written = interleave_rows(ctx, ctx.slice(xv, d, start, span), written, d, count, step);
  std::vector<Value*> parts;
  if (start > 0) parts.push_back(ctx.slice(xv, d, 0, start));
  parts.push_back(written);
  if (start + span < size) parts.push_back(ctx.slice(xv, d, start + span, size - start - span));
  concat(ctx, parts, d, ctx.make_output(y));
}

// copy(self, src): src broadcast to self's shape, in self's dtype.
void lower_copy(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* src = n.get_tensor("src");
  const Value* y = n.outputs.at(0);
  if (src->shape == x->shape) return ctx.bind(y, ctx.cast(ctx.get_any(src), x->dtype), ctx.layout_of(src));
  if (Value* sc = ctx.constant(src)) {
    // Folded here rather than left to fold_constants: later rules (slice_scatter) need the constant.
    Value* typed = ctx.cast(sc, x->dtype);
    const size_t es = ir::dtype_size(x->dtype);
    const auto src_bytes = typed->data->bytes();
    const auto offsets = ir::broadcast_offsets(ir::sizes_of(typed->shape), ir::sizes_of(x->shape));
    std::vector<uint8_t> bytes(offsets.size() * es);
    for (size_t e = 0; e < offsets.size(); ++e)
      std::memcpy(bytes.data() + e * es, src_bytes.data() + offsets[e] * es, es);
    return ctx.bind(y, ctx.new_const(x->dtype, x->shape, std::move(bytes)));
  }
  const auto shape = ir::sizes_of(x->shape);
  std::vector<int32_t> s(shape.begin(), shape.end());
  ctx.emit(ir::TflOp::BROADCAST_TO,
           {ctx.cast(ctx.get(src, {}), x->dtype), ctx.const_i32(s, {static_cast<int64_t>(s.size())})},
           {ctx.make_output(y)});
}

}  // namespace

void register_scatter_rules(Registry& r) {
  r.add("aten.slice_scatter.default", lower_slice_scatter, "(folded) / SLICE + CONCATENATION (+RESHAPE, PAD)",
        "folded when both tensors are constants; at run time the written rows are concatenated in (step > 1: "
        "the region regrouped as [count, step] with src as position 0 of each group); PyTorch order");
  r.add("aten.copy.default", lower_copy, "(none) / CAST / BROADCAST_TO", "constants broadcast at convert time");
}

}  // namespace pt2tflite::lower
