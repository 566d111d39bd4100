// aten.convolution → CONV_2D / DEPTHWISE_CONV_2D (NHWC, OHWI / 1HWO weights, always with bias).
// 1-D convolutions run as 2-D ones with H = 1.
#include <string>

#include "lower/const_eval.h"
#include "lower/padding.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// Pads the stored NHWC tensor explicitly (zeros) when SAME cannot express PyTorch's padding.
Value* pad_nhwc(LowerCtx& ctx, Value* x, int64_t ph, int64_t pw) {
  std::vector<int32_t> pads{0, 0, static_cast<int32_t>(ph), static_cast<int32_t>(ph),
                            static_cast<int32_t>(pw), static_cast<int32_t>(pw), 0, 0};
  ir::Shape s = x->shape;
  s[1].size += 2 * ph;
  s[2].size += 2 * pw;
  Value* out = ctx.make_temp(x->dtype, s);
  out->quant = x->quant;
  ctx.emit("PAD", {x, ctx.const_i32(pads, {4, 2})}, {out});
  return out;
}

void lower_convolution(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("input");
  const Value* w = n.get_tensor("weight");
  const Value* b = n.get_tensor("bias");
  const Value* y = n.outputs.at(0);
  if (n.get_bool("transposed")) return ctx.unsupported("transposed convolution is not supported yet");
  const int rank = x->rank();
  if (rank != 3 && rank != 4)
    return ctx.unsupported("only 1-D and 2-D convolutions are supported (input rank " +
                           std::to_string(rank) + ")");
  if (!ir::is_fully_static(x->shape)) return ctx.unsupported("dynamic spatial or channel dims are not supported yet");
  Value* wc = ctx.constant(w);
  if (!wc) return ctx.unsupported("the weight is computed at run time; TFLite convolutions need constant weights");
  if (b && !ctx.constant(b)) return ctx.unsupported("the bias is computed at run time; it must be a constant");

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

  std::string padding = "VALID";
  if (pad[0] != 0 || pad[1] != 0) {
    if (torch_pad_is_same(H, kh, stride[0], pad[0], dil[0]) && torch_pad_is_same(W, kw, stride[1], pad[1], dil[1]))
      padding = "SAME";
    else
      in = pad_nhwc(ctx, in, pad[0], pad[1]);
  }

  // Weights: OIHW → OHWI (CONV_2D) or [C·m, 1, kH, kW] → [1, kH, kW, C·m] (DEPTHWISE).
  const bool depthwise = groups > 1 && groups == cin && cin_g == 1 && cout % cin == 0;
  Value* w4 = ctx.reshape(wc, wsz);
  Value* filter = ctx.transpose(w4, depthwise ? Perm{1, 2, 3, 0} : Perm{0, 2, 3, 1});
  Value* bias = b ? ctx.cast(ctx.constant(b), ir::DType::kFloat32) : nullptr;
  if (!bias) {  // XNNPACK refuses convolutions without a bias
    std::vector<float> zeros(cout, 0.0f);
    bias = ctx.const_f32(zeros, {cout});
  }

  const int64_t oh = torch_window_out(H, kh, stride[0], pad[0], dil[0]);
  const int64_t ow = torch_window_out(W, kw, stride[1], pad[1], dil[1]);
  Value* out4 = ctx.make_temp(y->dtype, ir::static_shape(std::vector<int64_t>{x->shape[0].size, oh, ow, cout}));
  ir::Node* op = ctx.emit(depthwise ? "DEPTHWISE_CONV_2D" : "CONV_2D", {in, filter, bias}, {out4});
  op->set("padding", padding);
  op->set("stride_h", stride[0]);
  op->set("stride_w", stride[1]);
  op->set("dilation_h", dil[0]);
  op->set("dilation_w", dil[1]);
  if (depthwise) op->set("depth_multiplier", cout / cin);
  op->set("fused_activation", std::string("NONE"));

  if (rank == 4) {
    ctx.bind(y, out4, channels_last_perm(4));
  } else {
    Value* out3 = ctx.reshape(out4, {x->shape[0].size, ow, cout});
    ctx.bind(y, out3, channels_last_perm(3));
  }
}

}  // namespace

void register_conv_rules(Registry& r) {
  r.add("aten.convolution.default", lower_convolution, "CONV_2D, DEPTHWISE_CONV_2D (+PAD)",
        "1-D and 2-D, plain/depthwise/grouped; constant weights; NHWC; SAME when PyTorch's padding equals it, "
        "else PAD + VALID; a zero bias is added when absent. Transposed: not yet");
}

}  // namespace pt2tflite::lower
