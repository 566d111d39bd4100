// Reductions over dims: mean / sum / amax / amin → MEAN / SUM / REDUCE_MAX / REDUCE_MIN, computed
// in the input's stored layout (the reduced axes are mapped through it).
#include <algorithm>

#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

void lower_reduce(LowerCtx& ctx, const ir::Node& n, const std::string& op) {
  const Value* x = n.get_tensor("self");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  std::vector<int64_t> dims;
  if (const ir::Attr* d = n.find("dim"); d && std::holds_alternative<std::vector<int64_t>>(*d))
    dims = std::get<std::vector<int64_t>>(*d);
  if (dims.empty())
    for (int i = 0; i < rank; ++i) dims.push_back(i);
  for (int64_t& d : dims)
    if (d < 0) d += rank;
  const bool keepdim = n.find("keepdim") ? n.get_bool("keepdim") : false;
  if (!n.is_none("dtype") && n.get_int("dtype") != 7 /* float32 */)
    return ctx.unsupported("reductions with a dtype other than float32 are not supported yet");

  Perm layout = ctx.layout_of(x);
  const Perm full = layout.empty() ? identity_perm(rank) : layout;
  std::vector<int32_t> axes;
  for (int p = 0; p < rank; ++p)
    if (std::count(dims.begin(), dims.end(), full[p])) axes.push_back(p);
  // Output layout: keepdim keeps the input's; otherwise the surviving dims keep their stored
  // order, renumbered.
  Perm out_layout = layout;
  if (!keepdim && !layout.empty()) {
    out_layout.clear();
    for (int p = 0; p < rank; ++p) {
      int d = full[p];
      if (std::count(dims.begin(), dims.end(), d)) continue;
      int shift = static_cast<int>(std::count_if(dims.begin(), dims.end(), [d](int64_t r) { return r < d; }));
      out_layout.push_back(d - shift);
    }
  }
  Value* out = ctx.make_output(y, out_layout);
  ir::Node* r = ctx.emit(op, {ctx.get_any(x), ctx.const_i32(axes, {static_cast<int64_t>(axes.size())})}, {out});
  r->set("keep_dims", keepdim);
}

void lower_mean(LowerCtx& ctx, const ir::Node& n) { lower_reduce(ctx, n, "MEAN"); }
void lower_sum(LowerCtx& ctx, const ir::Node& n) { lower_reduce(ctx, n, "SUM"); }
void lower_amax(LowerCtx& ctx, const ir::Node& n) { lower_reduce(ctx, n, "REDUCE_MAX"); }
void lower_amin(LowerCtx& ctx, const ir::Node& n) { lower_reduce(ctx, n, "REDUCE_MIN"); }

}  // namespace

void register_reduce_rules(Registry& r) {
  const char* note = "axes mapped through the stored layout";
  r.add("aten.mean.dim", lower_mean, "MEAN", note);
  r.add("aten.mean.default", lower_mean, "MEAN", "all dims");
  r.add("aten.sum.dim_IntList", lower_sum, "SUM", note);
  r.add("aten.sum.default", lower_sum, "SUM", "all dims");
  r.add("aten.amax.default", lower_amax, "REDUCE_MAX", note);
  r.add("aten.amin.default", lower_amin, "REDUCE_MIN", note);
}

}  // namespace pt2tflite::lower
