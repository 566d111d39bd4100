// Matrix products: addmm / mm / linear → FULLY_CONNECTED (with a constant weight, or with the
// run-time tensor when the weight is computed in forward, e.g. nn.MultiheadAttention's in-projection
// for distinct query / key / value); other products → BATCH_MATMUL.
#include "ir/constants.h"
#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// FULLY_CONNECTED of `x` (PyTorch order) with weight `w_out_in` [out, in]. A 1-D `x` is one row:
// FULLY_CONNECTED returns [1, out] for it, so a RESHAPE gives PyTorch's [out].
void emit_fc(LowerCtx& ctx, const Value* x, Value* w_out_in, Value* bias, const Value* y) {
  Value* in = ctx.get(x, {});
  const bool row = x->rank() == 1;
  const int64_t cout = w_out_in->shape.at(0).size;
  Value* out = row ? ctx.make_temp(y->dtype, ir::static_shape(std::vector<int64_t>{1, cout})) : ctx.make_output(y);
  ir::Node* fc = ctx.emit(ir::TflOp::FULLY_CONNECTED, {in, w_out_in, bias}, {out});
  ir::set_fused_activation(*fc, ir::Activation::NONE);
  fc->set("keep_num_dims", x->rank() > 2);
  if (row) ctx.bind(y, ctx.reshape(out, {cout}));
}

// A 1-D constant bias of size `cout`, or nullptr when `b` is not one.
Value* fc_bias(LowerCtx& ctx, const Value* b, int64_t cout) {
  if (!b) return nullptr;
  Value* c = ctx.constant(b);
  if (!c || ir::num_elements(c->shape) != cout) return nullptr;
  return ctx.reshape(ctx.cast(c, ir::DType::kFloat32), {cout});
}

// A BATCH_MATMUL operand in PyTorch order, or with its last two dims swapped when it is already
// stored that way (then `adj` is set and BATCH_MATMUL swaps them back; no TRANSPOSE is emitted).
Value* matmul_operand(LowerCtx& ctx, const Value* v, bool& adj) {
  const int rank = v->rank();
  Perm swapped = identity_perm(rank);
  std::swap(swapped[rank - 1], swapped[rank - 2]);
  adj = !ctx.get_any(v)->is_const() && ctx.layout_of(v) == normalized(swapped, rank);
  return ctx.get(v, adj ? swapped : Perm{});
}

void lower_matmul_generic(LowerCtx& ctx, const Value* a, const Value* b, const Value* y) {
  if (a->rank() != b->rank()) return ctx.unsupported("matmul of operands with different ranks is not supported yet");
  bool adj_x = false, adj_y = false;
  Value* lhs = matmul_operand(ctx, a, adj_x);
  Value* rhs = matmul_operand(ctx, b, adj_y);
  ir::Node* mm = ctx.emit(ir::TflOp::BATCH_MATMUL, {lhs, rhs}, {ctx.make_output(y)});
  mm->set("adj_x", adj_x);
  mm->set("adj_y", adj_y);
}

// A run-time FC bias: `b` as a float 1-D tensor of size `cout`, or nullptr when it has another shape.
Value* runtime_fc_bias(LowerCtx& ctx, const Value* b, int64_t cout) {
  if (ir::num_elements(b->shape) != cout || !ir::is_fully_static(b->shape)) return nullptr;
  return ctx.reshape(ctx.cast(ctx.get(b, {}), ir::DType::kFloat32), {cout});
}

// addmm(self, mat1, mat2, beta, alpha) = beta·self + alpha·(mat1 @ mat2)
void lower_addmm(LowerCtx& ctx, const ir::Node& n) {
  const Value* bias = n.get_tensor("self");
  const Value* a = n.get_tensor("mat1");
  const Value* w = n.get_tensor("mat2");
  const Value* y = n.outputs.at(0);
  if (n.get_float("alpha") != 1.0 || n.get_float("beta") != 1.0)
    return ctx.unsupported("addmm with alpha or beta != 1 is not supported yet");
  const int64_t cout = y->shape.at(1).size;
  Value* fb = ctx.constant(bias) ? fc_bias(ctx, bias, cout) : runtime_fc_bias(ctx, bias, cout);
  if (!fb) return ctx.unsupported("addmm needs a 1-D bias of the output's width");
  Value* wc = ctx.constant(w);
  // A run-time [in, out] weight: TRANSPOSE to the [out, in] FULLY_CONNECTED reads.
  Value* w_out_in = wc ? ctx.transpose(ctx.cast(wc, ir::DType::kFloat32), {1, 0}) : ctx.get(w, {1, 0});
  emit_fc(ctx, a, w_out_in, fb, y);
}

void lower_mm(LowerCtx& ctx, const ir::Node& n) {
  const Value* a = n.get_tensor("self");
  const Value* w = n.get_tensor("mat2");
  const Value* y = n.outputs.at(0);
  if (Value* wc = ctx.constant(w))
    return emit_fc(ctx, a, ctx.transpose(ctx.cast(wc, ir::DType::kFloat32), {1, 0}), nullptr, y);
  lower_matmul_generic(ctx, a, w, y);
}

void lower_bmm(LowerCtx& ctx, const ir::Node& n) {
  lower_matmul_generic(ctx, n.get_tensor("self"), n.get_tensor("mat2"), n.outputs.at(0));
}

// linear(input, weight [out, in], bias?) when the decomposition table keeps it whole.
void lower_linear(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("input");
  const Value* w = n.get_tensor("weight");
  const Value* b = n.get_tensor("bias");
  if (w->rank() != 2) return ctx.unsupported("linear needs a 2-D weight");
  const int64_t cout = w->shape[0].size;
  Value* fb = nullptr;
  if (b) {
    fb = ctx.constant(b) ? fc_bias(ctx, b, cout) : runtime_fc_bias(ctx, b, cout);
    if (!fb) return ctx.unsupported("linear needs a 1-D bias of the output's width");
  }
  // A weight computed in forward is read as a run-time tensor: FULLY_CONNECTED takes it as is.
  Value* wc = ctx.constant(w);
  emit_fc(ctx, x, wc ? ctx.cast(wc, ir::DType::kFloat32) : ctx.cast(ctx.get(w, {}), ir::DType::kFloat32), fb,
          n.outputs.at(0));
}

}  // namespace

void register_linear_rules(Registry& r) {
  r.add("aten.addmm.default", lower_addmm, "FULLY_CONNECTED",
        "constant weight transposed at convert time; a run-time weight through a TRANSPOSE");
  r.add("aten.mm.default", lower_mm, "FULLY_CONNECTED, BATCH_MATMUL",
        "FULLY_CONNECTED when the right operand is constant");
  r.add("aten.bmm.default", lower_bmm, "BATCH_MATMUL",
        "adj_x / adj_y instead of a TRANSPOSE of an operand stored transposed");
  r.add("aten.linear.default", lower_linear, "FULLY_CONNECTED",
        "keep_num_dims for rank > 2 inputs; weight and bias constant or run-time")
      .keep_whole_in_decomposition();
}

}  // namespace pt2tflite::lower
