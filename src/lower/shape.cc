// Shape and data-movement ops: view/reshape, permute, squeeze/unsqueeze, cat, and the copies
// that are no-ops in an inference graph. Permutes of activations emit nothing: they change the
// binding's layout, and a TRANSPOSE appears only where some op needs another order.
#include <algorithm>

#include "lower/const_eval.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// Binds the output to the input unchanged.
void lower_identity(LowerCtx& ctx, const ir::Node& n, const Value* x) {
  ctx.bind(n.outputs.at(0), ctx.get_any(x), ctx.layout_of(x));
}

// Any op whose output is the input with another shape (same elements in PyTorch order).
void lower_reshape_to(LowerCtx& ctx, const ir::Node& n, const Value* x) {
  const Value* y = n.outputs.at(0);
  if (!ir::is_fully_static(y->shape)) return ctx.unsupported("reshape to a dynamic shape is not supported yet");
  const Perm layout = ctx.layout_of(x);
  // When the stored order already equals PyTorch's order (ignoring size-1 dims), reshape the
  // stored tensor directly; otherwise restore PyTorch's order first.
  Value* in = same_memory_order(x->shape, layout) ? ctx.get_any(x) : ctx.get(x, {});
  ctx.bind(y, ctx.reshape(in, ir::sizes_of(y->shape)));
}

void lower_view(LowerCtx& ctx, const ir::Node& n) { lower_reshape_to(ctx, n, n.get_tensor("self")); }

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

void lower_cat(LowerCtx& ctx, const ir::Node& n) {
  const auto& xs = n.get_tensors("tensors");
  const Value* y = n.outputs.at(0);
  const int rank = y->rank();
  int64_t dim = n.get_int("dim");
  if (dim < 0) dim += rank;
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
  ir::Node* c = ctx.emit("CONCATENATION", ins, {out});
  c->set("axis", int64_t{axis});
  c->set("fused_activation", std::string("NONE"));
}

}  // namespace

void register_shape_rules(Registry& r) {
  const char* reshape_note = "free when the stored order matches PyTorch's; folded for constants";
  r.add("aten.view.default", lower_view, "RESHAPE", reshape_note);
  r.add("aten._unsafe_view.default", lower_view, "RESHAPE", reshape_note);
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
  r.add("aten.cat.default", lower_cat, "CONCATENATION", "in the layout of the first activation input");
}

}  // namespace pt2tflite::lower
