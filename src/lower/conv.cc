// aten.convolution → CONV_2D / DEPTHWISE_CONV_2D (NHWC, OHWI / 1HWO weights, always with bias),
// or TRANSPOSE_CONV for transposed ones. 1-D convolutions run as 2-D ones with H = 1.
#include <string>

#include "ir/constants.h"
#include "lower/padding.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// Pads the stored NHWC tensor explicitly (zeros) when SAME cannot express PyTorch's padding.
Value* pad_nhwc(LowerCtx& ctx, Value* x, int64_t ph, int64_t pw) {
  std::vector<int32_t> pads{
      0, 0, static_cast<int32_t>(ph), static_cast<int32_t>(ph), static_cast<int32_t>(pw), static_cast<int32_t>(pw),
      0, 0};
  ir::Shape s = x->shape;
  s[1].size += 2 * ph;
  s[2].size += 2 * pw;
  Value* out = ctx.make_temp(x->dtype, s);
  out->quant = x->quant;
  ctx.emit(ir::TflOp::PAD, {x, ctx.const_i32(pads, {4, 2})}, {out});
  return out;
}

void lower_transposed_convolution(LowerCtx& ctx, const ir::Node& n);

void lower_convolution(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("input");
  const Value* w = n.get_tensor("weight");
  const Value* b = n.get_tensor("bias");
  const Value* y = n.outputs.at(0);
  if (n.get_bool("transposed")) return lower_transposed_convolution(ctx, n);
  const int rank = x->rank();
  if (rank != 3 && rank != 4)
    return ctx.unsupported("only 1-D and 2-D convolutions are supported (input rank " + std::to_string(rank) + ")");
  // A dynamic batch is fine for a 2-D convolution: nothing below bakes the batch into the file.
  if (!ir::is_static_from(x->shape, rank == 4 ? 1 : 0))
    return ctx.unsupported("dynamic spatial or channel dims are not supported yet");
  // Weights computed in the graph (weight norm, e.g. Wav2Vec2's positional conv) are permuted at
  // run time: correct, but XNNPACK only delegates convolutions with constant weights.
  Value* wc = ctx.constant(w);
  if (!wc) wc = ctx.get(w, {});

  // View 1-D as 2-D: [N, C, L] → [N, C, 1, L]; parameters get a leading H entry.
  auto two_d = [&](std::vector<int64_t> v, int64_t h) {
    if (rank == 3) v.insert(v.begin(), h);
    return v;
  };
  const auto stride = two_d(n.get_ints("stride"), 1);
  const auto pad = two_d(n.get_ints("padding"), 0);
  const auto dil = two_d(n.get_ints("dilation"), 1);
  const int64_t groups = n.get_int("groups");
  std::vector<int64_t> wsz = ir::sizes_of(wc->shape);  // [O, I/g, (kH,) kW]
  if (rank == 3) wsz.insert(wsz.begin() + 2, 1);
  const int64_t cout = wsz[0], cin_g = wsz[1], kh = wsz[2], kw = wsz[3];
  const int64_t cin = x->shape[1].size;

  // Input NHWC. For 1-D, the stored [N, L, C] reshapes for free to [N, 1, L, C].
  Value* in;
  if (rank == 4) {
    in = ctx.get(x, channels_last_perm(4));
  } else {
    in = ctx.reshape(ctx.get(x, channels_last_perm(3)), {x->shape[0].size, 1, x->shape[2].size, cin});
  }
  const int64_t H = in->shape[1].size, W = in->shape[2].size;

  ir::Padding padding = ir::Padding::VALID;
  if (pad[0] != 0 || pad[1] != 0) {
    if (torch_pad_is_same(H, kh, stride[0], pad[0], dil[0]) && torch_pad_is_same(W, kw, stride[1], pad[1], dil[1]))
      padding = ir::Padding::SAME;
    else
      in = pad_nhwc(ctx, in, pad[0], pad[1]);
  }

  // Weights: OIHW → OHWI (CONV_2D) or [C·m, 1, kH, kW] → [1, kH, kW, C·m] (DEPTHWISE).
  const bool depthwise = groups > 1 && groups == cin && cin_g == 1 && cout % cin == 0;
  Value* w4 = ctx.reshape(wc, wsz);
  Value* filter = ctx.transpose(w4, depthwise ? Perm{1, 2, 3, 0} : Perm{0, 2, 3, 1});
  Value* bias = b ? ctx.cast(ctx.get(b, {}), ir::DType::kFloat32) : nullptr;
  if (!bias) {  // XNNPACK refuses convolutions without a bias
    std::vector<float> zeros(cout, 0.0f);
    bias = ctx.const_f32(zeros, {cout});
  }

  const int64_t oh = torch_window_out(H, kh, stride[0], pad[0], dil[0]);
  const int64_t ow = torch_window_out(W, kw, stride[1], pad[1], dil[1]);
  Value* out4 = ctx.make_temp(y->dtype, ir::Shape{x->shape[0], {oh, {}}, {ow, {}}, {cout, {}}});
  ir::Node* op = ctx.emit(depthwise ? ir::TflOp::DEPTHWISE_CONV_2D : ir::TflOp::CONV_2D, {in, filter, bias}, {out4});
  ir::set_padding(*op, padding);
  op->set("stride_h", stride[0]);
  op->set("stride_w", stride[1]);
  op->set("dilation_h", dil[0]);
  op->set("dilation_w", dil[1]);
  if (depthwise) op->set("depth_multiplier", cout / cin);
  ir::set_fused_activation(*op, ir::Activation::NONE);

  if (rank == 4) {
    ctx.bind(y, out4, channels_last_perm(4));
  } else {
    Value* out3 = ctx.reshape(out4, {x->shape[0].size, ow, cout});
    ctx.bind(y, out3, channels_last_perm(3));
  }
}

// TRANSPOSE_CONV computes the full, unpadded result ((in - 1)·s + k per dim) with VALID; PyTorch's
// padding p then crops p from each side and output_padding adds rows at the end, so the output is
// rows [p, p + out) of that: a SLICE, unless SAME pads exactly that way (k - s = 2p, no
// output_padding). Rows past the full result (output_padding > p) hold only the bias: TFLite
// fills them when asked for a larger output_shape (at most s - 1 rows more, which XNNPACK accepts).
void lower_transposed_convolution(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("input");
  const Value* b = n.get_tensor("bias");
  const Value* y = n.outputs.at(0);
  const int rank = x->rank();
  if (rank != 3 && rank != 4) return ctx.unsupported("only 1-D and 2-D transposed convolutions are supported");
  if (!ir::is_fully_static(x->shape)) return ctx.unsupported("dynamic spatial or channel dims are not supported yet");
  if (n.get_int("groups") != 1) return ctx.unsupported("grouped transposed convolution: TRANSPOSE_CONV has no groups");
  Value* wc = ctx.constant(n.get_tensor("weight"));
  if (!wc) return ctx.unsupported("the weight is computed at run time; TRANSPOSE_CONV needs a constant weight");
  if (b && !ctx.constant(b)) return ctx.unsupported("the bias is computed at run time; it must be a constant");
  auto two_d = [&](std::vector<int64_t> v, int64_t h) {
    if (rank == 3) v.insert(v.begin(), h);
    return v;
  };
  const auto stride = two_d(n.get_ints("stride"), 1), pad = two_d(n.get_ints("padding"), 0);
  const auto out_pad = two_d(n.get_ints("output_padding"), 0), dil = two_d(n.get_ints("dilation"), 1);
  if (dil[0] != 1 || dil[1] != 1)
    return ctx.unsupported("dilated transposed convolution: TRANSPOSE_CONV has no dilation");
  std::vector<int64_t> wsz = ir::sizes_of(wc->shape);  // [Cin, Cout, (kH,) kW]
  if (rank == 3) wsz.insert(wsz.begin() + 2, 1);
  const int64_t cin = wsz[0], cout = wsz[1], N = x->shape[0].size;
  const int64_t k[2] = {wsz[2], wsz[3]};

  Value* in = rank == 4 ? ctx.get(x, channels_last_perm(4))
                        : ctx.reshape(ctx.get(x, channels_last_perm(3)), {N, 1, x->shape[2].size, cin});
  const int64_t in_size[2] = {in->shape[1].size, in->shape[2].size};
  int64_t out[2], full[2];
  bool same = true;
  for (int i = 0; i < 2; ++i) {
    full[i] = (in_size[i] - 1) * stride[i] + k[i];
    out[i] = full[i] - 2 * pad[i] + out_pad[i];
    same &= k[i] - stride[i] == 2 * pad[i] && out_pad[i] == 0;
  }
  // Weights [Cin, Cout, kH, kW] → [Cout, kH, kW, Cin].
  Value* filter = ctx.transpose(ctx.reshape(ctx.cast(wc, ir::DType::kFloat32), wsz), {1, 2, 3, 0});
  Value* bias = b ? ctx.cast(ctx.constant(b), ir::DType::kFloat32) : nullptr;
  if (!bias) {  // as for CONV_2D, keep the op shape XNNPACK expects
    std::vector<float> zeros(cout, 0.0f);
    bias = ctx.const_f32(zeros, {cout});
  }
  int64_t computed[2];
  for (int i = 0; i < 2; ++i) computed[i] = same ? out[i] : std::max(full[i], pad[i] + out[i]);
  std::vector<int32_t> shape{static_cast<int32_t>(N), static_cast<int32_t>(computed[0]),
                             static_cast<int32_t>(computed[1]), static_cast<int32_t>(cout)};
  Value* res = ctx.make_temp(y->dtype, ir::static_shape(std::vector<int64_t>{N, computed[0], computed[1], cout}));
  ir::Node* op = ctx.emit(ir::TflOp::TRANSPOSE_CONV, {ctx.const_i32(shape, {4}), filter, in, bias}, {res});
  ir::set_padding(*op, same ? ir::Padding::SAME : ir::Padding::VALID);
  op->set("stride_h", stride[0]);
  op->set("stride_w", stride[1]);
  ir::set_fused_activation(*op, ir::Activation::NONE);
  if (!same && (pad[0] || pad[1] || computed[0] != out[0] || computed[1] != out[1])) {
    std::vector<int32_t> begin{0, static_cast<int32_t>(pad[0]), static_cast<int32_t>(pad[1]), 0};
    std::vector<int32_t> size{static_cast<int32_t>(N), static_cast<int32_t>(out[0]), static_cast<int32_t>(out[1]),
                              static_cast<int32_t>(cout)};  // no -1: XNNPACK refuses it
    Value* cropped = ctx.make_temp(y->dtype, ir::static_shape(std::vector<int64_t>{N, out[0], out[1], cout}));
    ctx.emit(ir::TflOp::SLICE, {res, ctx.const_i32(begin, {4}), ctx.const_i32(size, {4})}, {cropped});
    res = cropped;
  }
  if (rank == 4) return ctx.bind(y, res, channels_last_perm(4));
  ctx.bind(y, ctx.reshape(res, {N, out[1], cout}), channels_last_perm(3));
}

}  // namespace

void register_conv_rules(Registry& r) {
  r.add("aten.convolution.default", lower_convolution, "CONV_2D, DEPTHWISE_CONV_2D (+PAD), TRANSPOSE_CONV (+SLICE)",
        "1-D and 2-D, plain/depthwise/grouped; constant weights; NHWC; SAME when PyTorch's padding equals it, "
        "else PAD + VALID; a zero bias is added when absent. Transposed: groups = 1, no dilation, "
        "VALID + SLICE unless SAME crops the same way");
}

}  // namespace pt2tflite::lower
