// Ops that copy elements into a new arrangement: repeat (tiling), flip (reversal) and unfold
// (sliding windows along one dim). Each works on the stored tensor where it can.
#include <numeric>

#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// `x` repeated `m` times along stored axis `axis`: CONCATENATION of copies (XNNPACK takes it) for
// small counts, else TILE.
Value* repeat_axis(LowerCtx& ctx, Value* x, int axis, int64_t m) {
  ir::Shape s = x->shape;
  s[axis].size *= m;
  Value* out = ctx.make_temp(x->dtype, s);
  if (m <= 4) {
    ir::Node* c = ctx.emit(ir::TflOp::CONCATENATION, std::vector<Value*>(m, x), {out});
    c->set("axis", static_cast<int64_t>(axis));
    ir::set_fused_activation(*c, ir::Activation::NONE);
    return out;
  }
  std::vector<int32_t> multiples(x->rank(), 1);
  multiples[axis] = static_cast<int32_t>(m);
  ctx.emit(ir::TflOp::TILE, {x, ctx.const_i32(multiples, {x->rank()})}, {out});
  return out;
}

// repeat(self, repeats): extra leading repeats add leading dims (then in PyTorch order).
void lower_repeat(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const auto& reps = n.get_ints("repeats");
  const int rank = x->rank();
  if (!ir::is_fully_static(x->shape)) return ctx.unsupported("repeat needs static shapes");
  if (static_cast<int>(reps.size()) < rank) return ctx.unsupported("repeat with fewer repeats than dims");
  Perm layout;
  Value* v = nullptr;
  if (static_cast<int>(reps.size()) == rank) {
    layout = ctx.layout_of(x);
    v = ctx.get_any(x);
  } else {
    std::vector<int64_t> shape(reps.size() - rank, 1);
    for (const ir::Dim& d : x->shape) shape.push_back(d.size);
    v = ctx.reshape(ctx.get(x, {}), shape);
  }
  const Perm full = layout.empty() ? identity_perm(static_cast<int>(reps.size())) : layout;
  for (int p = 0; p < v->rank(); ++p) {
    const int64_t m = reps[full[p]];
    if (m == 0) return ctx.unsupported("repeat by 0 (an empty tensor)");
    if (m > 1) v = repeat_axis(ctx, v, p, m);
  }
  ctx.bind(y, v, layout);
}

// flip(self, dims): one REVERSE_V2 per flipped stored axis (the builtin kernel reverses one axis).
void lower_flip(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const int rank = x->rank();
  const Perm layout = ctx.layout_of(x);
  const Perm full = layout.empty() ? identity_perm(rank) : layout;
  Value* v = ctx.get_any(x);
  for (int64_t d : n.get_ints("dims")) {
    if (d < 0) d += rank;
    int32_t axis = 0;
    while (full[axis] != d) ++axis;
    if (v->shape[axis].is_static() && v->shape[axis].size == 1) continue;
    Value* out = ctx.make_temp(v->dtype, v->shape);
    ctx.emit(ir::TflOp::REVERSE_V2, {v, ctx.const_i32(std::span(&axis, 1), {1})}, {out});
    v = out;
  }
  ctx.bind(n.outputs.at(0), v, layout);
}

// unfold(self, dimension, size, step): windows x[..., i·step + j, ...] with j on a new last dim.
// step == size is a SLICE + RESHAPE; other steps GATHER the windows' indices. Either way the stored
// result has j right after i, and the output's layout says so (no TRANSPOSE until one is needed).
void lower_unfold(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  if (!ir::is_fully_static(x->shape)) return ctx.unsupported("unfold needs static shapes");
  if (rank == 0) return ctx.unsupported("unfold of a 0-d tensor");
  int64_t dim = n.get_int("dimension");
  if (dim < 0) dim += rank;
  const int64_t size = n.get_int("size"), step = n.get_int("step");
  const int64_t S = x->shape[dim].size;
  if (size < 1 || step < 1 || size > S) return ctx.unsupported("unfold with a window larger than the dim");
  const int64_t count = (S - size) / step + 1;
  Value* in = ctx.get(x, {});
  std::vector<int64_t> shape = ir::sizes_of(x->shape);
  shape[dim] = count;
  shape.insert(shape.begin() + dim + 1, size);
  Value* windows = nullptr;
  if (step == size) {
    Value* cut = count * size == S ? in : ctx.slice(in, static_cast<int>(dim), 0, count * size);
    windows = ctx.reshape(cut, shape);
  } else {
    std::vector<int32_t> idx;
    for (int64_t i = 0; i < count; ++i)
      for (int64_t j = 0; j < size; ++j) idx.push_back(static_cast<int32_t>(i * step + j));
    windows = ctx.make_temp(x->dtype, ir::static_shape(shape));
    ctx.emit(ir::TflOp::GATHER, {in, ctx.const_i32(idx, {count, size})}, {windows})->set("axis", dim);
  }
  // Stored [.., count, size, rest..] holds output logical dims [.., dim, rank, dim + 1, ..].
  Perm layout;
  for (int d = 0; d <= dim; ++d) layout.push_back(d);
  layout.push_back(rank);
  for (int d = static_cast<int>(dim) + 1; d < rank; ++d) layout.push_back(d);
  ctx.bind(y, windows, layout);
}

}  // namespace

void register_rearrange_rules(Registry& r) {
  r.add(
      "aten.repeat.default", lower_repeat, "CONCATENATION / TILE",
      "per repeated stored axis: CONCATENATION of up to 4 copies (delegated to XNNPACK), TILE beyond (not delegated)");
  r.add("aten.flip.default", lower_flip, "REVERSE_V2",
        "one per flipped axis; in the stored layout; not delegated to XNNPACK");
  r.add("aten.unfold.default", lower_unfold, "SLICE + RESHAPE / GATHER",
        "step = size: SLICE + RESHAPE; other steps: GATHER of constant window indices (not delegated to XNNPACK); "
        "the window dim stays next to the window index in the stored layout");
}

}  // namespace pt2tflite::lower
