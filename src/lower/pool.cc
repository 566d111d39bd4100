// Pooling: max/avg pool and adaptive avg pool → MAX_POOL_2D / AVERAGE_POOL_2D / MEAN, in NHWC.
#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include "lower/padding.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

struct Window {
  int64_t kh, kw, sh, sw, ph, pw;
};

Window window_of(const ir::Node& n) {
  auto k = n.get_ints("kernel_size");
  if (k.size() == 1) k.push_back(k[0]);
  auto s = n.get_ints("stride");
  if (s.empty()) s = k;  // an omitted stride means stride = kernel
  if (s.size() == 1) s.push_back(s[0]);
  auto p = n.get_ints("padding");
  if (p.size() == 1) p.push_back(p[0]);
  return {k[0], k[1], s[0], s[1], p[0], p[1]};
}

ir::Node* emit_pool(LowerCtx& ctx, ir::TflOp op, Value* in, const Window& w, ir::Padding padding, const Value* y) {
  Value* out = ctx.make_output(y, channels_last_perm(4));
  if (w.kh == 1 && w.kw == 1 && (w.sh > 1 || w.sw > 1) && in->dtype == ir::DType::kFloat32 && !in->quant) {
    // A 1x1 window with stride > 1 only subsamples, but XNNPACK refuses 1x1 pooling with stride > 1.
    // A depthwise 1x1 convolution with weight 1 and bias 0 picks the same elements (x·1 + 0 = x).
    const int64_t c = in->shape[3].size;
    const std::vector<float> ones(c, 1.0f), zeros(c, 0.0f);
    ir::Node* n = ctx.emit(ir::TflOp::DEPTHWISE_CONV_2D,
                           {in, ctx.const_f32(ones, {1, 1, 1, c}), ctx.const_f32(zeros, {c})}, {out});
    ir::set_padding(*n, ir::Padding::VALID);
    n->set("stride_h", w.sh);
    n->set("stride_w", w.sw);
    n->set("dilation_h", int64_t{1});
    n->set("dilation_w", int64_t{1});
    n->set("depth_multiplier", int64_t{1});
    ir::set_fused_activation(*n, ir::Activation::NONE);
    return n;
  }
  ir::Node* n = ctx.emit(op, {in}, {out});
  ir::set_padding(*n, padding);
  n->set("stride_h", w.sh);
  n->set("stride_w", w.sw);
  n->set("filter_h", w.kh);
  n->set("filter_w", w.kw);
  ir::set_fused_activation(*n, ir::Activation::NONE);
  return n;
}

// Explicit padding of the stored NHWC tensor with `value` (PADV2 when not zero).
Value* pad_nhwc(LowerCtx& ctx, Value* x, int64_t top, int64_t bottom, int64_t left, int64_t right, float value) {
  std::vector<int32_t> pads{0,
                            0,
                            static_cast<int32_t>(top),
                            static_cast<int32_t>(bottom),
                            static_cast<int32_t>(left),
                            static_cast<int32_t>(right),
                            0,
                            0};
  ir::Shape s = x->shape;
  s[1].size += top + bottom;
  s[2].size += left + right;
  Value* out = ctx.make_temp(x->dtype, s);
  if (value == 0.0f)
    ctx.emit(ir::TflOp::PAD, {x, ctx.const_i32(pads, {4, 2})}, {out});
  else
    ctx.emit(ir::TflOp::PADV2, {x, ctx.const_i32(pads, {4, 2}), ctx.scalar(x->dtype, value)}, {out});
  return out;
}

// True when every element of `v` is >= 0 because a ReLU-family op produced it, or because it is
// dequantized from int8 with zero point -128 (the lowest code is real 0, as after a quantized
// ReLU), or because it only moves, pools or concatenates such values (SqueezeNet's fire modules
// concatenate two ReLU outputs before a max pool); then zero padding cannot win a max over a
// window that always holds a real element.
bool known_non_negative(const Value* v, int depth = 0) {
  const ir::Node* p = v->producer;
  if (!p || depth > 8) return false;
  if (p->is(ir::TflOp::TRANSPOSE) || p->is(ir::TflOp::RESHAPE) || p->is(ir::TflOp::MAX_POOL_2D) ||
      p->is(ir::TflOp::AVERAGE_POOL_2D))
    return known_non_negative(p->inputs[0], depth + 1);
  if (p->is(ir::TflOp::CONCATENATION))
    return std::all_of(p->inputs.begin(), p->inputs.end(),
                       [&](const Value* in) { return known_non_negative(in, depth + 1); });
  if (p->is(ir::TflOp::DEQUANTIZE)) {
    const auto& q = p->inputs[0]->quant;
    return q && q->zero_point.size() == 1 && q->zero_point[0] == -128;
  }
  return p->is(ir::TflOp::RELU) || p->is(ir::TflOp::RELU6) || p->is(ir::TflOp::LOGISTIC);
}

bool check_pool_input(LowerCtx& ctx, const Value* x) {
  if (x->rank() != 4) {
    ctx.unsupported("only 2-D pooling on 4-D (N, C, H, W) inputs is supported");
    return false;
  }
  if (!ir::is_static_from(x->shape, 1)) {  // a dynamic batch is fine
    ctx.unsupported("dynamic spatial dims are not supported yet");
    return false;
  }
  return true;
}

void lower_max_pool(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  if (!check_pool_input(ctx, x)) return;
  // LiteRT's MAX_POOL_2D has float32, int8, uint8 and int16 kernels; any other dtype converts into
  // a file that fails at invoke.
  if (x->dtype != ir::DType::kFloat32 && x->dtype != ir::DType::kInt8 && x->dtype != ir::DType::kUInt8 &&
      x->dtype != ir::DType::kInt16)
    return ctx.unsupported("max pooling of a " + std::string(ir::dtype_name(x->dtype)) +
                           " tensor is not supported (MAX_POOL_2D takes float32, int8, uint8 and int16)");
  if (n.outputs.size() > 1 && n.outputs[1] && ctx.uses(n.outputs[1]) > 0)
    return ctx.unsupported("max-pool indices are used; TFLite has no max pool with indices");
  for (int64_t d : n.get_ints("dilation"))
    if (d != 1) return ctx.unsupported("dilated max pooling is not supported");
  const Window w = window_of(n);
  const bool ceil = n.get_bool("ceil_mode");
  Value* in = ctx.get(x, channels_last_perm(4));
  const int64_t H = in->shape[1].size, W = in->shape[2].size;
  ir::Padding padding = ir::Padding::VALID;
  if (w.ph == 0 && w.pw == 0 && !ceil) {
    padding = ir::Padding::VALID;
  } else if (torch_pad_is_same(H, w.kh, w.sh, w.ph, 1, ceil) && torch_pad_is_same(W, w.kw, w.sw, w.pw, 1, ceil)) {
    padding = ir::Padding::SAME;  // SAME ignores out-of-bounds taps, exactly like PyTorch's -inf padding
  } else {
    const int64_t oh = torch_window_out(H, w.kh, w.sh, w.ph, 1, ceil);
    const int64_t ow = torch_window_out(W, w.kw, w.sw, w.pw, 1, ceil);
    const int64_t bottom = std::max<int64_t>((oh - 1) * w.sh + w.kh - H - w.ph, 0);
    const int64_t right = std::max<int64_t>((ow - 1) * w.sw + w.kw - W - w.pw, 0);
    // PAD (zeros, delegated to XNNPACK) is exact after a ReLU; otherwise pad with -inf (PADV2; an
    // integer dtype's lowest value, as LowerCtx::scalar saturates).
    const float fill = known_non_negative(in) ? 0.0f : -std::numeric_limits<float>::infinity();
    in = pad_nhwc(ctx, in, w.ph, bottom, w.pw, right, fill);
  }
  emit_pool(ctx, ir::TflOp::MAX_POOL_2D, in, w, padding, n.outputs[0]);
}

// The general average pool: PAD with zeros so that every window lies inside the padded tensor,
// AVERAGE_POOL_2D VALID (then every tap is in bounds: it divides by kh·kw), and one MUL by a
// convert-time map kh·kw / divisor per output position, the divisor being PyTorch's (taps inside
// the padded input for count_include_pad, inside the input otherwise, or divisor_override).
void emit_avg_pool_rescaled(LowerCtx& ctx, const ir::Node& n, Value* in, const Window& w, int64_t oh, int64_t ow,
                            bool include_pad) {
  const int64_t H = in->shape[1].size, W = in->shape[2].size;
  const int64_t bottom = std::max<int64_t>((oh - 1) * w.sh + w.kh - H - w.ph, 0);
  const int64_t right = std::max<int64_t>((ow - 1) * w.sw + w.kw - W - w.pw, 0);
  const std::optional<int64_t> override_div =
      n.is_none("divisor_override") ? std::nullopt : std::optional<int64_t>(n.get_int("divisor_override"));
  std::vector<float> scale(oh * ow);
  bool all_one = true;
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      int64_t h0 = i * w.sh - w.ph, w0 = j * w.sw - w.pw;
      int64_t h1 = std::min(h0 + w.kh, H + w.ph), w1 = std::min(w0 + w.kw, W + w.pw);
      const int64_t padded = (h1 - h0) * (w1 - w0);
      h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0), h1 = std::min(h1, H), w1 = std::min(w1, W);
      const int64_t div = override_div ? *override_div : include_pad ? padded : (h1 - h0) * (w1 - w0);
      scale[i * ow + j] = static_cast<float>(static_cast<double>(w.kh * w.kw) / static_cast<double>(div));
      all_one = all_one && scale[i * ow + j] == 1.0f;
    }
  if (w.ph || w.pw || bottom || right) in = pad_nhwc(ctx, in, w.ph, bottom, w.pw, right, 0.0f);
  if (all_one) return void(emit_pool(ctx, ir::TflOp::AVERAGE_POOL_2D, in, w, ir::Padding::VALID, n.outputs[0]));
  ir::Shape pooled = in->shape;
  pooled[1].size = oh;
  pooled[2].size = ow;
  Value* avg = ctx.make_temp(in->dtype, pooled);
  ir::Node* p = ctx.emit(ir::TflOp::AVERAGE_POOL_2D, {in}, {avg});
  ir::set_padding(*p, ir::Padding::VALID);
  p->set("stride_h", w.sh);
  p->set("stride_w", w.sw);
  p->set("filter_h", w.kh);
  p->set("filter_w", w.kw);
  ir::set_fused_activation(*p, ir::Activation::NONE);
  Value* out = ctx.make_output(n.outputs[0], channels_last_perm(4));
  ir::set_fused_activation(*ctx.emit(ir::TflOp::MUL, {avg, ctx.const_f32(scale, {1, oh, ow, 1})}, {out}),
                           ir::Activation::NONE);
}

void lower_avg_pool(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  if (!check_pool_input(ctx, x)) return;
  if (!ir::is_floating(x->dtype)) return ctx.unsupported("avg_pool2d of a non-float tensor");
  const Window w = window_of(n);
  const bool ceil = n.get_bool("ceil_mode");
  const bool include_pad = n.get_bool("count_include_pad");
  Value* in = ctx.get(x, channels_last_perm(4));
  const int64_t H = in->shape[1].size, W = in->shape[2].size;
  const int64_t oh = torch_window_out(H, w.kh, w.sh, w.ph, 1, ceil);
  const int64_t ow = torch_window_out(W, w.kw, w.sw, w.pw, 1, ceil);
  // Windows that reach past the padded input (ceil_mode) are clipped by PyTorch: TFLite's
  // AVERAGE_POOL_2D divides by in-bounds taps only, which matches count_include_pad=False.
  const int64_t bottom = std::max<int64_t>((oh - 1) * w.sh + w.kh - H - w.ph, 0);
  const int64_t right = std::max<int64_t>((ow - 1) * w.sw + w.kw - W - w.pw, 0);
  if (!n.is_none("divisor_override") || in->quant) {
    if (in->quant) return ctx.unsupported("int8 avg_pool2d with divisor_override is not supported");
    return emit_avg_pool_rescaled(ctx, n, in, w, oh, ow, include_pad);
  }
  ir::Padding padding = ir::Padding::VALID;
  if (w.ph == 0 && w.pw == 0 && bottom == 0 && right == 0) {
    padding = ir::Padding::VALID;
  } else if (!include_pad && torch_pad_is_same(H, w.kh, w.sh, w.ph, 1, ceil) &&
             torch_pad_is_same(W, w.kw, w.sw, w.pw, 1, ceil)) {
    padding = ir::Padding::SAME;
  } else if (include_pad && (oh - 1) * w.sh + w.kh <= H + 2 * w.ph && (ow - 1) * w.sw + w.kw <= W + 2 * w.pw) {
    // Every window lies inside the zero-padded input, so dividing by k·k matches PyTorch.
    in = pad_nhwc(ctx, in, w.ph, w.ph, w.pw, w.pw, 0.0f);  // zeros count, as in PyTorch
  } else {
    if (in->quant) return ctx.unsupported("int8 avg_pool2d with windows past the padded input is not supported");
    return emit_avg_pool_rescaled(ctx, n, in, w, oh, ow, include_pad);
  }
  emit_pool(ctx, ir::TflOp::AVERAGE_POOL_2D, in, w, padding, n.outputs[0]);
}

// Adaptive pooling whose windows differ in size (output i covers [floor(i·H/OH), ceil((i+1)·H/OH))):
// one BATCH_MATMUL of a convert-time [OH·OW, H·W] averaging matrix with the NHWC input seen as
// [N, H·W, C]. No TRANSPOSE: the spatial dims are already together in the stored order.
void lower_adaptive_by_matmul(LowerCtx& ctx, const ir::Node& n, Value* in, int64_t oh, int64_t ow) {
  const int64_t N = in->shape[0].size, H = in->shape[1].size, W = in->shape[2].size, C = in->shape[3].size;
  if (in->quant || in->dtype != ir::DType::kFloat32)
    return ctx.unsupported("adaptive avg pool with uneven windows: float32 only");
  if (oh * ow * H * W > (int64_t{1} << 22))
    return ctx.unsupported(
        "adaptive avg pool with uneven windows and a large input: the averaging matrix would exceed 16 MB");
  std::vector<float> m(oh * ow * H * W, 0.0f);
  for (int64_t i = 0; i < oh; ++i) {
    const int64_t h0 = i * H / oh, h1 = ((i + 1) * H + oh - 1) / oh;
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t w0 = j * W / ow, w1 = ((j + 1) * W + ow - 1) / ow;
      const float a = static_cast<float>(1.0 / static_cast<double>((h1 - h0) * (w1 - w0)));
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w) m[((i * ow + j) * H + h) * W + w] = a;
    }
  }
  Value* flat = ctx.reshape(in, {N, H * W, C});
  const std::vector<int64_t> pooled_shape{N, oh * ow, C};
  Value* pooled = ctx.make_temp(in->dtype, ir::static_shape(pooled_shape));
  ir::Node* mm = ctx.emit(ir::TflOp::BATCH_MATMUL, {ctx.const_f32(m, {1, oh * ow, H * W}), flat}, {pooled});
  mm->set("adj_x", false);
  mm->set("adj_y", false);
  ctx.bind(n.outputs[0], ctx.reshape(pooled, {N, oh, ow, C}), channels_last_perm(4));
}

void lower_adaptive_avg_pool(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  if (!check_pool_input(ctx, x)) return;
  auto out_size = n.get_ints("output_size");
  if (out_size.size() == 1) out_size.push_back(out_size[0]);
  Value* in = ctx.get(x, channels_last_perm(4));
  const int64_t H = in->shape[1].size, W = in->shape[2].size;
  if (out_size[0] == 1 && out_size[1] == 1) {
    Value* out = ctx.make_output(n.outputs[0], channels_last_perm(4));
    std::vector<int32_t> axes{1, 2};
    ir::Node* m = ctx.emit(ir::TflOp::MEAN, {in, ctx.const_i32(axes, {2})}, {out});
    m->set("keep_dims", true);
    return;
  }
  if (H % out_size[0] != 0 || W % out_size[1] != 0)
    return lower_adaptive_by_matmul(ctx, n, in, out_size[0], out_size[1]);
  const Window w{H / out_size[0], W / out_size[1], H / out_size[0], W / out_size[1], 0, 0};
  emit_pool(ctx, ir::TflOp::AVERAGE_POOL_2D, in, w, ir::Padding::VALID, n.outputs[0]);
}

}  // namespace

void register_pool_rules(Registry& r) {
  r.add("aten.max_pool2d_with_indices.default", lower_max_pool, "MAX_POOL_2D (+PAD / PADV2)",
        "indices must be unused; SAME when equivalent, else PAD(0) after a ReLU or PADV2(-inf), + VALID; ceil_mode "
        "handled; "
        "1x1 window with stride > 1 → DEPTHWISE_CONV_2D (XNNPACK refuses that pool)");
  r.add("aten.avg_pool2d.default", lower_avg_pool, "AVERAGE_POOL_2D (+PAD, MUL)",
        "count_include_pad=False → SAME when equivalent; windows inside the zero-padded input → PAD(0) + VALID; "
        "otherwise (ceil_mode windows past the edge, divisor_override) PAD(0) + VALID + MUL by a convert-time map of "
        "k·k / PyTorch's divisor; 1x1 window with stride > 1 → DEPTHWISE_CONV_2D (XNNPACK refuses that pool)");
  r.add("aten._adaptive_avg_pool2d.default", lower_adaptive_avg_pool, "MEAN, AVERAGE_POOL_2D, BATCH_MATMUL",
        "output 1x1 → MEAN over H, W; an output size that divides the input → AVERAGE_POOL_2D; otherwise one "
        "BATCH_MATMUL with a convert-time averaging matrix (float32, at most 4M entries)");
}

}  // namespace pt2tflite::lower
