// Shape and data-movement ops: view/reshape, permute, squeeze/unsqueeze, cat, and the copies
// that are no-ops in an inference graph. Permutes of activations emit nothing: they change the
// binding's layout, and a TRANSPOSE appears only where some op needs another order.
#include <algorithm>
#include <map>
#include <optional>

#include "ir/constants.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// Binds the output to the input unchanged.
void lower_identity(LowerCtx& ctx, const ir::Node& n, const Value* x) {
  ctx.bind(n.outputs.at(0), ctx.get_any(x), ctx.layout_of(x));
}

// A reshape to a shape with dynamic dims. One: RESHAPE with -1 there, which the kernel infers from
// the input's element count at run time (the static dims are exact, so the -1 is that dim). Several:
// RESHAPE to a shape tensor computed at run time from the inputs' sizes (builtin kernel only).
void lower_dynamic_reshape(LowerCtx& ctx, const Value* x, const Value* y) {
  std::vector<int32_t> shape;
  int dynamic = 0;
  for (const ir::Dim& d : y->shape) {
    shape.push_back(d.is_static() ? static_cast<int32_t>(d.size) : -1);
    dynamic += !d.is_static();
  }
  if (dynamic > 1) {
    if (Value* s = ctx.runtime_shape(y->shape)) ctx.emit(ir::TflOp::RESHAPE, {ctx.get(x, {}), s}, {ctx.make_output(y)});
    return;
  }
  ctx.emit(ir::TflOp::RESHAPE, {ctx.get(x, {}), ctx.const_i32(shape, {static_cast<int64_t>(shape.size())})},
           {ctx.make_output(y)});
}

// Any op whose output is the input with another shape (same elements in PyTorch order).
void lower_reshape_to(LowerCtx& ctx, const ir::Node& n, const Value* x) {
  const Value* y = n.outputs.at(0);
  if (x->shape == y->shape) return lower_identity(ctx, n, x);  // a no-op view keeps the layout as it is
  if (!ir::is_fully_static(y->shape) || !ir::is_fully_static(x->shape)) return lower_dynamic_reshape(ctx, x, y);
  // Reshape the stored tensor directly when the merged and split dims lie together in it (the
  // result keeps a layout); otherwise restore PyTorch's order first.
  const std::vector<int64_t> out = ir::sizes_of(y->shape);
  if (ir::is_fully_static(x->shape)) {
    if (std::optional<Perm> layout = reshape_layout(ir::sizes_of(x->shape), ctx.layout_of(x), out)) {
      ctx.bind(y, ctx.reshape(ctx.get_any(x), ir::sizes_of(physical_shape(y->shape, *layout))), *layout);
      return;
    }
  }
  ctx.bind(y, ctx.reshape(ctx.get(x, {}), out));
}

void lower_view(LowerCtx& ctx, const ir::Node& n) { lower_reshape_to(ctx, n, n.get_tensor("self")); }

// as_strided appears when a decomposition restores a memory format (e.g. adaptive_avg_pool2d on
// a channels-last tensor). It is a plain reshape when it reads the input's elements in order:
// offset 0, same element count, and row-major strides for every dim of size > 1.
void lower_as_strided(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const auto& size = n.get_ints("size");
  const auto& stride = n.get_ints("stride");
  const bool offset0 = n.is_none("storage_offset") || n.get_int("storage_offset") == 0;
  bool row_major = offset0 && size.size() == stride.size();
  int64_t expect = 1, numel = 1;
  for (size_t i = size.size(); row_major && i-- > 0;) {
    if (size[i] != 1 && stride[i] != expect) row_major = false;
    expect *= size[i];
    numel *= size[i];
  }
  if (!row_major || numel != ir::num_elements(x->shape))
    return ctx.unsupported("as_strided that is not a plain reshape of its input is not supported");
  lower_reshape_to(ctx, n, x);
}

void lower_permute(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const int rank = x->rank();
  Perm perm;
  for (int64_t d : n.get_ints("dims")) perm.push_back(static_cast<int>(d < 0 ? d + rank : d));
  // Output logical dim i is input logical dim perm[i]. The stored tensor is unchanged: its
  // physical dim j holds input dim L[j], i.e. output dim perm⁻¹[L[j]].
  Perm in_layout = ctx.layout_of(x);
  if (in_layout.empty()) in_layout = identity_perm(rank);
  const Perm inv = inverse(perm);
  Perm out_layout;
  for (int d : in_layout) out_layout.push_back(inv[d]);
  Value* stored = ctx.get_any(x);
  if (stored->is_const()) {  // fold: constants are kept in PyTorch order
    ctx.bind(n.outputs.at(0), ctx.transpose(ctx.get(x, {}), perm));
    return;
  }
  ctx.bind(n.outputs.at(0), stored, out_layout);
}

void lower_clone(LowerCtx& ctx, const ir::Node& n) { lower_identity(ctx, n, n.get_tensor("self")); }

void lower_to_copy(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  if (y->dtype == x->dtype) return lower_identity(ctx, n, x);
  ctx.bind(y, ctx.cast(ctx.get_any(x), y->dtype), ctx.layout_of(x));
}

void lower_squeeze_like(LowerCtx& ctx, const ir::Node& n) { lower_reshape_to(ctx, n, n.get_tensor("self")); }

// One cat input seen as a view of `base`: for each cut logical dim, (step, offset) of a slice
// x[offset::step] along it.
struct StridedView {
  const Value* base = nullptr;
  std::map<int, std::pair<int64_t, int64_t>> cuts;
};

// `x` as a chain of stepped slices (step ≥ 2, offset < step, to the end of a dim that the step
// divides; at most one per dim), or nullopt.
std::optional<StridedView> strided_view(const Value* x) {
  StridedView view;
  const int rank = x->rank();
  for (const Value* v = x;;) {
    const ir::Node* p = v->producer;
    if (p && (p->op == "aten.clone.default" || p->op == "aten.alias.default")) {
      v = p->get_tensor("self");
      continue;
    }
    if (!p || p->op != "aten.slice.Tensor") {
      view.base = v;
      break;
    }
    const Value* src = p->get_tensor("self");
    const int64_t d = p->get_int("dim") < 0 ? p->get_int("dim") + rank : p->get_int("dim");
    const int64_t step = p->get_int("step");
    if (src->rank() != rank || d < 0 || d >= rank || !src->shape[d].is_static() || step < 2 || view.cuts.count(d))
      return std::nullopt;
    const int64_t size = src->shape[d].size;
    int64_t start = p->is_none("start") ? 0 : p->get_int("start");
    if (start < 0) start += size;
    if (start < 0 || start >= step || size % step != 0 || p->outputs.at(0)->shape[d].size != size / step)
      return std::nullopt;
    view.cuts[static_cast<int>(d)] = {step, start};
    v = src;
  }
  return view;
}

// cat of stepped slices that tile one tensor exactly once, in an order that is a mixed-radix count
// of the offsets, is a space-to-depth: Swin's patch merging cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2],
// x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1). It becomes RESHAPE (each cut dim split into [n/step,
// step]) → TRANSPOSE (the step axes moved, in the count's order, just before the cat dim) →
// RESHAPE, in the base's stored layout: three delegated ops instead of one slice chain per input.
bool lower_cat_of_strided_views(LowerCtx& ctx, const ir::Node& n, int dim) {
  const auto& xs = n.get_tensors("tensors");
  const Value* y = n.outputs.at(0);
  const int rank = y->rank();
  if (xs.size() < 2 || !ir::is_fully_static(y->shape)) return false;
  std::vector<StridedView> views;
  for (const Value* x : xs) {
    std::optional<StridedView> v = strided_view(x);
    if (!v || v->cuts.empty() || v->cuts.count(dim)) return false;
    if (!views.empty()) {
      if (v->base != views[0].base || v->cuts.size() != views[0].cuts.size()) return false;
      for (auto [d, cut] : v->cuts)
        if (!views[0].cuts.count(d) || views[0].cuts.at(d).first != cut.first) return false;
    }
    views.push_back(std::move(*v));
  }
  const Value* base = views[0].base;
  if (base->rank() != rank || !ir::is_fully_static(base->shape)) return false;
  std::vector<int> cut_dims;
  for (auto& [d, cut] : views[0].cuts) cut_dims.push_back(d);
  // Find the order of the cut dims (outermost first) in which input i has offsets counting i.
  bool found = false;
  do {
    found = true;
    for (size_t i = 0; i < views.size() && found; ++i) {
      int64_t k = 0;
      for (int d : cut_dims) k = k * views[i].cuts.at(d).first + views[i].cuts.at(d).second;
      found = k == static_cast<int64_t>(i);
    }
  } while (!found && std::next_permutation(cut_dims.begin(), cut_dims.end()));
  int64_t tiles = 1;
  for (int d : cut_dims) tiles *= views[0].cuts.at(d).first;
  if (!found || tiles != static_cast<int64_t>(views.size())) return false;

  const Perm layout = ctx.layout_of(base);
  const Perm full = layout.empty() ? identity_perm(rank) : layout;
  // Split shape in stored order; outer[d] / inner[d] are the axes of cut dim d, keep[d] the others'.
  std::vector<int64_t> split;
  std::map<int, int> outer, inner, keep;
  for (int p = 0; p < rank; ++p) {
    const int d = full[p];
    const int64_t size = base->shape[d].size;
    if (auto it = views[0].cuts.find(d); it != views[0].cuts.end()) {
      outer[d] = static_cast<int>(split.size());
      split.push_back(size / it->second.first);
      inner[d] = static_cast<int>(split.size());
      split.push_back(it->second.first);
    } else {
      keep[d] = static_cast<int>(split.size());
      split.push_back(size);
    }
  }
  Perm perm;
  for (int p = 0; p < rank; ++p) {
    const int d = full[p];
    if (d == dim)
      for (int c : cut_dims) perm.push_back(inner[c]);
    perm.push_back(outer.count(d) ? outer[d] : keep[d]);
  }
  Value* moved = ctx.transpose(ctx.reshape(ctx.get_any(base), split), perm);
  ctx.bind(y, ctx.reshape(moved, ir::sizes_of(physical_shape(y->shape, layout))), layout);
  return true;
}

void lower_cat(LowerCtx& ctx, const ir::Node& n) {
  const auto& xs = n.get_tensors("tensors");
  const Value* y = n.outputs.at(0);
  const int rank = y->rank();
  int64_t dim = n.get_int("dim");
  if (dim < 0) dim += rank;
  if (lower_cat_of_strided_views(ctx, n, static_cast<int>(dim))) return;
  // Concatenate in the layout of the first non-constant input (NHWC blocks stay NHWC).
  Perm layout;
  for (const Value* x : xs)
    if (!ctx.get_any(x)->is_const() && x->rank() == rank) {
      layout = ctx.layout_of(x);
      break;
    }
  std::vector<Value*> ins;
  for (const Value* x : xs) {
    if (x->rank() == 1 && x->shape[0].size == 0) continue;  // torch.cat skips empty 1-D tensors
    ins.push_back(ctx.get(x, layout));
  }
  const Perm full = layout.empty() ? identity_perm(rank) : layout;
  const int axis = static_cast<int>(std::find(full.begin(), full.end(), dim) - full.begin());
  Value* out = ctx.make_output(y, layout);
  ir::Node* c = ctx.emit(ir::TflOp::CONCATENATION, ins, {out});
  c->set("axis", int64_t{axis});
  ir::set_fused_activation(*c, ir::Activation::NONE);
}

// expand to a shape with dynamic dims: a view when every dim is the input's (the same symbol or the
// same static size; new leading 1s), otherwise BROADCAST_TO a shape computed at run time.
void lower_dynamic_expand(LowerCtx& ctx, const ir::Node& n, const Value* x, const Value* y) {
  const int lead = y->rank() - x->rank();
  bool grows = false;
  for (int d = 0; d < y->rank(); ++d) grows |= (d < lead ? ir::Dim{1, ""} : x->shape[d - lead]) != y->shape[d];
  if (!grows) return lower_reshape_to(ctx, n, x);
  Value* in = ctx.get(x, {});
  if (lead > 0) {
    ir::Shape ranked(lead, ir::Dim{1, ""});
    ranked.insert(ranked.end(), x->shape.begin(), x->shape.end());
    Value* s = ctx.runtime_shape(ranked);
    if (!s) return;
    Value* r = ctx.make_temp(in->dtype, ranked);
    ctx.emit(ir::TflOp::RESHAPE, {in, s}, {r});
    in = r;
  }
  if (Value* s = ctx.runtime_shape(y->shape)) ctx.emit(ir::TflOp::BROADCAST_TO, {in, s}, {ctx.make_output(y)});
}

// expand: a view when no dim grows (same shape, or only new leading 1s); otherwise BROADCAST_TO,
// in x's layout when the rank is unchanged.
void lower_expand(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  if (!ir::is_fully_static(y->shape)) return lower_dynamic_expand(ctx, n, x, y);
  const int lead = y->rank() - x->rank();
  bool grows = false;
  for (int d = 0; d < y->rank(); ++d) {
    const int64_t from = d < lead ? 1 : x->shape[d - lead].size;
    grows |= from != y->shape[d].size;
  }
  if (!grows) return lower_reshape_to(ctx, n, x);
  Perm layout = lead == 0 ? ctx.layout_of(x) : Perm{};
  Value* in = lead == 0 ? ctx.get_any(x) : ctx.reshape(ctx.get(x, {}), [&] {
    std::vector<int64_t> s(lead, 1);
    for (const ir::Dim& d : x->shape) s.push_back(d.size);
    return s;
  }());
  std::vector<int32_t> shape;
  for (const ir::Dim& d : physical_shape(y->shape, layout)) shape.push_back(static_cast<int32_t>(d.size));
  // BROADCAST_TO is not delegated to XNNPACK; elementwise ops broadcast by themselves, so it only
  // appears where PyTorch materializes the expansion (e.g. before a reshape that merges dims).
  ctx.emit(ir::TflOp::BROADCAST_TO, {in, ctx.const_i32(shape, {static_cast<int64_t>(shape.size())})},
           {ctx.make_output(y, layout)});
}

// pixel_shuffle in NHWC. PyTorch reads input channel c·r² + i·r + j into output (c, h·r+i, w·r+j);
// DEPTH_TO_SPACE reads channel (i·r + j)·C + c. The orders agree when C = 1; otherwise the
// channels are regrouped first: [N,H,W,C,r²] → TRANSPOSE → [N,H,W,r²,C].
void lower_pixel_shuffle(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  if (x->rank() != 4 || !ir::is_fully_static(x->shape))
    return ctx.unsupported("pixel_shuffle needs a static 4-D input");
  // LiteRT's DEPTH_TO_SPACE kernel takes float32, int8 and uint8 only: any other type would give
  // a file LiteRT refuses to prepare.
  if (x->dtype != ir::DType::kFloat32 && x->dtype != ir::DType::kInt8 && x->dtype != ir::DType::kUInt8)
    return ctx.unsupported("pixel_shuffle of a " + std::string(ir::dtype_name(x->dtype)) +
                           " tensor is not supported (float32, int8 or uint8)");
  const int64_t r = n.get_int("upscale_factor");
  // PyTorch's shape rule: [N, C·r², H, W] → [N, C, H·r, W·r]; the regrouping below relies on it (a
  // fuzzed archive declared a rank-3 output).
  const int64_t N = x->shape[0].size, Cr2 = x->shape[1].size, H = x->shape[2].size, W = x->shape[3].size;
  if (r < 1 || r > 1024 || Cr2 % (r * r) != 0 || !ir::is_fully_static(y->shape) ||
      ir::sizes_of(y->shape) != std::vector<int64_t>{N, Cr2 / (r * r), H * r, W * r})
    return ctx.unsupported("pixel_shuffle's declared output is not [N, C/r², H·r, W·r] of its input");
  const int64_t C = y->shape[1].size;
  const Perm nhwc = channels_last_perm(4);
  Value* in = ctx.get(x, nhwc);
  if (C != 1) {
    Value* split = ctx.reshape(in, {N, H, W, C, r * r});
    in = ctx.reshape(ctx.transpose(split, {0, 1, 2, 4, 3}), {N, H, W, r * r * C});
  }
  ctx.emit(ir::TflOp::DEPTH_TO_SPACE, {in}, {ctx.make_output(y, nhwc)})->set("block_size", r);
}

// roll(self, shifts, dims): out[i] = x[(i - shift) mod n] along each rolled dim, i.e. the last
// `shift mod n` elements moved to the front: SLICE + SLICE + CONCATENATION per dim, on the stored
// axis of the dim (an NHWC tensor stays NHWC). torch's decomposition would index with an
// arange-computed GATHER instead, which XNNPACK does not take. Without dims, the flattened tensor
// is rolled and reshaped back.
void lower_roll(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const auto& shifts = n.get_ints("shifts");
  const auto& dims = n.get_ints("dims");
  if (!ir::is_fully_static(x->shape)) return ctx.unsupported("roll of a dynamic shape is not supported yet");
  const int rank = x->rank();
  Value* v;
  Perm layout;
  std::vector<std::pair<int, int64_t>> rolls;  // (stored axis, shift)
  if (dims.empty()) {
    if (shifts.size() != 1) return ctx.unsupported("roll without dims takes exactly one shift");
    v = ctx.reshape(ctx.get(x, {}), {ir::num_elements(x->shape)});
    rolls.emplace_back(0, shifts[0]);
  } else {
    if (shifts.size() != dims.size()) return ctx.unsupported("roll needs one shift per dim");
    layout = ctx.layout_of(x);
    const Perm full = layout.empty() ? identity_perm(rank) : layout;
    v = ctx.get_any(x);
    for (size_t i = 0; i < dims.size(); ++i) {
      const int64_t dim = dims[i] < 0 ? dims[i] + rank : dims[i];
      if (dim < 0 || dim >= rank) return ctx.unsupported("roll dim out of range");
      rolls.emplace_back(static_cast<int>(std::find(full.begin(), full.end(), dim) - full.begin()), shifts[i]);
    }
  }
  for (auto [axis, shift] : rolls) {
    const int64_t size = v->shape[axis].size;
    if (size == 0) continue;
    const int64_t s = ((shift % size) + size) % size;  // Python's modulo: negative shifts roll left
    if (s == 0) continue;
    Value* out = ctx.make_temp(v->dtype, v->shape);
    out->quant = v->quant;
    ir::Node* c =
        ctx.emit(ir::TflOp::CONCATENATION, {ctx.slice(v, axis, size - s, s), ctx.slice(v, axis, 0, size - s)}, {out});
    c->set("axis", int64_t{axis});
    ir::set_fused_activation(*c, ir::Activation::NONE);
    v = out;
  }
  if (dims.empty()) v = ctx.reshape(v, ir::sizes_of(x->shape));
  ctx.bind(y, v, layout);
}

}  // namespace

void register_shape_rules(Registry& r) {
  const char* reshape_note =
      "keeps the layout when the merged/split dims lie together in the stored order; folded for constants";
  r.add("aten.view.default", lower_view, "RESHAPE", reshape_note);
  r.add("aten._unsafe_view.default", lower_view, "RESHAPE", reshape_note);
  r.add("aten.as_strided.default", lower_as_strided, "RESHAPE", "only when it reads its input in order (a reshape)");
  r.add("aten.reshape.default", lower_view, "RESHAPE", reshape_note);
  r.add("aten.unsqueeze.default", lower_squeeze_like, "RESHAPE", reshape_note);
  r.add("aten.squeeze.dims", lower_squeeze_like, "RESHAPE", reshape_note);
  r.add("aten.squeeze.dim", lower_squeeze_like, "RESHAPE", reshape_note);
  r.add("aten.squeeze.default", lower_squeeze_like, "RESHAPE", reshape_note);
  r.add("aten.permute.default", lower_permute, "(none) / TRANSPOSE",
        "changes the layout only; folded into constants; a TRANSPOSE appears only where an op needs the order");
  r.add("aten.clone.default", lower_clone, "(none)", "no-op");
  r.add("aten.alias.default", lower_clone, "(none)", "no-op");
  r.add("aten.detach.default", lower_clone, "(none)", "no-op");
  r.add("aten._to_copy.default", lower_to_copy, "(none) / CAST", "no-op unless the dtype changes");
  r.add("aten.expand.default", lower_expand, "(none), RESHAPE, BROADCAST_TO",
        "free when no dim grows; BROADCAST_TO (not delegated to XNNPACK) otherwise");
  r.add("aten.pixel_shuffle.default", lower_pixel_shuffle, "DEPTH_TO_SPACE (+RESHAPE, TRANSPOSE)",
        "NHWC; channels regrouped with one TRANSPOSE unless C = 1")
      .keep_whole_in_decomposition();
  r.add("aten.roll.default", lower_roll, "SLICE + SLICE + CONCATENATION per rolled dim",
        "no GATHER; in the stored layout; shift 0 (mod size) is free; no dims: the flattened tensor")
      .keep_whole_in_decomposition();
  r.add("aten.cat.default", lower_cat, "CONCATENATION, RESHAPE + TRANSPOSE + RESHAPE",
        "in the layout of the first activation input; stepped slices tiling one tensor (space-to-depth, "
        "Swin's patch merging) → one TRANSPOSE");
}

}  // namespace pt2tflite::lower
