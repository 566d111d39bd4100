// Explicit padding ops (F.pad): constant_pad_nd → PAD / PADV2 (SLICE for negative pads), reflection_pad → MIRROR_PAD
// (REFLECT excludes the edge, as PyTorch does), replication_pad → SLICE + CONCATENATION. Pads are
// given for the last logical dims and mapped through the stored layout. (lower/padding.h is the
// other kind: conv and pool windows vs SAME / VALID.)
#include <algorithm>

#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// PyTorch's pad list [last_lo, last_hi, second_last_lo, ...] as (lo, hi) per stored axis.
std::vector<std::pair<int64_t, int64_t>> stored_pads(const std::vector<int64_t>& pad, int rank, const Perm& layout) {
  std::vector<std::pair<int64_t, int64_t>> logical(rank, {0, 0});
  for (size_t i = 0; 2 * i + 1 < pad.size(); ++i) logical[rank - 1 - i] = {pad[2 * i], pad[2 * i + 1]};
  if (layout.empty()) return logical;
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int d : layout) out.push_back(logical[d]);
  return out;
}

Value* pads_const(LowerCtx& ctx, const std::vector<std::pair<int64_t, int64_t>>& pads) {
  std::vector<int32_t> v;
  for (auto [lo, hi] : pads) {
    v.push_back(static_cast<int32_t>(lo));
    v.push_back(static_cast<int32_t>(hi));
  }
  return ctx.const_i32(v, {static_cast<int64_t>(pads.size()), 2});
}

bool check_pads(LowerCtx& ctx, const std::vector<int64_t>& pad) {
  for (int64_t p : pad)
    if (p < 0) {
      ctx.unsupported("negative padding (cropping) is not supported yet");
      return false;
    }
  return true;
}

// Negative pads crop: one SLICE per cropped stored axis first, then PAD / PADV2 with the rest.
void lower_constant_pad(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const auto& pad = n.get_ints("pad");
  const Perm layout = ctx.layout_of(x);
  Value* in = ctx.get_any(x);
  auto pads = stored_pads(pad, x->rank(), layout);
  for (int axis = 0; axis < in->rank(); ++axis) {
    auto& [lo, hi] = pads[axis];
    if (lo >= 0 && hi >= 0) continue;
    if (!in->shape[axis].is_static()) return ctx.unsupported("negative padding of a dynamic dim");
    const int64_t begin = std::max<int64_t>(-lo, 0), end = in->shape[axis].size - std::max<int64_t>(-hi, 0);
    if (end - begin <= 0) return ctx.unsupported("negative padding that crops a dim to nothing");
    in = ctx.slice(in, axis, begin, end - begin);
    lo = std::max<int64_t>(lo, 0);
    hi = std::max<int64_t>(hi, 0);
  }
  // Padding by nothing (Swin pads to a multiple of the window size, often by 0) is the input.
  if (std::all_of(pads.begin(), pads.end(), [](auto p) { return p.first == 0 && p.second == 0; }))
    return ctx.bind(y, in, layout);
  const double value = n.get_float("value");
  Value* out = ctx.make_output(y, layout);
  if (value == 0.0)
    ctx.emit(ir::TflOp::PAD, {in, pads_const(ctx, pads)}, {out});
  else  // PADV2 is not delegated to XNNPACK
    ctx.emit(ir::TflOp::PADV2, {in, pads_const(ctx, pads), ctx.scalar(y->dtype, value)}, {out});
}

void lower_reflection_pad(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const auto& pad = n.get_ints("padding");
  if (!check_pads(ctx, pad)) return;
  const Perm layout = ctx.layout_of(x);
  Value* out = ctx.make_output(n.outputs.at(0), layout);
  ctx.emit(ir::TflOp::MIRROR_PAD, {ctx.get_any(x), pads_const(ctx, stored_pads(pad, x->rank(), layout))}, {out})
      ->set("mode", std::string("REFLECT"));
}

// Replication: per padded axis, the edge slice repeated lo / hi times around the tensor, in one
// CONCATENATION. Every op is delegated to XNNPACK.
void lower_replication_pad(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const auto& pad = n.get_ints("padding");
  if (!check_pads(ctx, pad)) return;
  const Perm layout = ctx.layout_of(x);
  const auto pads = stored_pads(pad, x->rank(), layout);
  Value* cur = ctx.get_any(x);
  const int rank = cur->rank();
  for (int axis = 0; axis < rank; ++axis) {
    auto [lo, hi] = pads[axis];
    if (lo == 0 && hi == 0) continue;
    const int64_t size = cur->shape[axis].size;
    auto edge = [&](int64_t at) { return ctx.slice(cur, axis, at, 1); };
    std::vector<Value*> parts;
    if (lo) parts.insert(parts.end(), lo, edge(0));
    parts.push_back(cur);
    if (hi) parts.insert(parts.end(), hi, edge(size - 1));
    ir::Shape shape = cur->shape;
    shape[axis].size += lo + hi;
    Value* next = ctx.make_temp(cur->dtype, shape);
    ir::Node* c = ctx.emit(ir::TflOp::CONCATENATION, parts, {next});
    c->set("axis", int64_t{axis});
    ir::set_fused_activation(*c, ir::Activation::NONE);
    cur = next;
  }
  ctx.bind(n.outputs.at(0), cur, layout);
}

}  // namespace

void register_pad_rules(Registry& r) {
  const char* note = "pads mapped through the stored layout; no negative pads";
  r.add("aten.constant_pad_nd.default", lower_constant_pad, "(none), PAD, PADV2 (+SLICE)",
        "pads mapped through the stored layout; negative pads crop with SLICE; all-zero pads are free; a non-zero "
        "value → PADV2 (not delegated to XNNPACK)");
  const std::string reflect_note = std::string(note) + "; not delegated to XNNPACK";
  for (const char* op :
       {"aten.reflection_pad1d.default", "aten.reflection_pad2d.default", "aten.reflection_pad3d.default"})
    r.add(op, lower_reflection_pad, "MIRROR_PAD (REFLECT)", reflect_note).keep_whole_in_decomposition();
  for (const char* op :
       {"aten.replication_pad1d.default", "aten.replication_pad2d.default", "aten.replication_pad3d.default"})
    r.add(op, lower_replication_pad, "SLICE + CONCATENATION", note).keep_whole_in_decomposition();
}

}  // namespace pt2tflite::lower
