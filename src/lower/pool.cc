// Pooling: max/avg pool and adaptive avg pool → MAX_POOL_2D / AVERAGE_POOL_2D / MEAN, in NHWC.
#include <algorithm>
#include <limits>
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

ir::Node* emit_pool(LowerCtx& ctx, const std::string& op, Value* in, const Window& w, const std::string& padding,
                    const Value* y) {
  Value* out = ctx.make_output(y, channels_last_perm(4));
  if (w.kh == 1 && w.kw == 1 && (w.sh > 1 || w.sw > 1) && in->dtype == ir::DType::kFloat32 && !in->quant) {
    // A 1x1 window with stride > 1 only subsamples, but XNNPACK refuses 1x1 pooling with stride > 1.
    // A depthwise 1x1 convolution with weight 1 and bias 0 picks the same elements (x·1 + 0 = x).
    const int64_t c = in->shape[3].size;
    const std::vector<float> ones(c, 1.0f), zeros(c, 0.0f);
    ir::Node* n = ctx.emit("DEPTHWISE_CONV_2D", {in, ctx.const_f32(ones, {1, 1, 1, c}), ctx.const_f32(zeros, {c})}, {out});
    n->set("padding", std::string("VALID"));
    n->set("stride_h", w.sh);
    n->set("stride_w", w.sw);
    n->set("dilation_h", int64_t{1});
    n->set("dilation_w", int64_t{1});
    n->set("depth_multiplier", int64_t{1});
    n->set("fused_activation", std::string("NONE"));
    return n;
  }
  ir::Node* n = ctx.emit(op, {in}, {out});
  n->set("padding", padding);
  n->set("stride_h", w.sh);
  n->set("stride_w", w.sw);
  n->set("filter_h", w.kh);
  n->set("filter_w", w.kw);
  n->set("fused_activation", std::string("NONE"));
  return n;
}

// Explicit padding of the stored NHWC tensor with `value` (PADV2 when not zero).
Value* pad_nhwc(LowerCtx& ctx, Value* x, int64_t top, int64_t bottom, int64_t left, int64_t right, float value) {
  std::vector<int32_t> pads{0, 0, static_cast<int32_t>(top), static_cast<int32_t>(bottom),
                            static_cast<int32_t>(left), static_cast<int32_t>(right), 0, 0};
  ir::Shape s = x->shape;
  s[1].size += top + bottom;
  s[2].size += left + right;
  Value* out = ctx.make_temp(x->dtype, s);
  if (value == 0.0f)
    ctx.emit("PAD", {x, ctx.const_i32(pads, {4, 2})}, {out});
  else
    ctx.emit("PADV2", {x, ctx.const_i32(pads, {4, 2}), ctx.scalar(x->dtype, value)}, {out});
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
  if (p->op == "tfl.TRANSPOSE" || p->op == "tfl.RESHAPE" || p->op == "tfl.MAX_POOL_2D" || p->op == "tfl.AVERAGE_POOL_2D")
    return known_non_negative(p->inputs[0], depth + 1);
  if (p->op == "tfl.CONCATENATION")
    return std::all_of(p->inputs.begin(), p->inputs.end(), [&](const Value* in) { return known_non_negative(in, depth + 1); });
  if (p->op == "tfl.DEQUANTIZE") {
    const auto& q = p->inputs[0]->quant;
    return q && q->zero_point.size() == 1 && q->zero_point[0] == -128;
  }
  return p->op == "tfl.RELU" || p->op == "tfl.RELU6" || p->op == "tfl.LOGISTIC";
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
  if (n.outputs.size() > 1 && n.outputs[1] && ctx.uses(n.outputs[1]) > 0)
    return ctx.unsupported("max-pool indices are used; TFLite has no max pool with indices");
  for (int64_t d : n.get_ints("dilation"))
    if (d != 1) return ctx.unsupported("dilated max pooling is not supported");
  const Window w = window_of(n);
  const bool ceil = n.get_bool("ceil_mode");
  Value* in = ctx.get(x, channels_last_perm(4));
  const int64_t H = in->shape[1].size, W = in->shape[2].size;
  std::string padding = "VALID";
  if (w.ph == 0 && w.pw == 0 && !ceil) {
    padding = "VALID";
  } else if (torch_pad_is_same(H, w.kh, w.sh, w.ph, 1, ceil) && torch_pad_is_same(W, w.kw, w.sw, w.pw, 1, ceil)) {
    padding = "SAME";  // SAME ignores out-of-bounds taps, exactly like PyTorch's -inf padding
  } else {
    const int64_t oh = torch_window_out(H, w.kh, w.sh, w.ph, 1, ceil);
    const int64_t ow = torch_window_out(W, w.kw, w.sw, w.pw, 1, ceil);
    const int64_t bottom = std::max<int64_t>((oh - 1) * w.sh + w.kh - H - w.ph, 0);
    const int64_t right = std::max<int64_t>((ow - 1) * w.sw + w.kw - W - w.pw, 0);
    // PAD (zeros, delegated to XNNPACK) is exact after a ReLU; otherwise pad with -inf (PADV2).
    const float fill = known_non_negative(in) ? 0.0f : -std::numeric_limits<float>::infinity();
    in = pad_nhwc(ctx, in, w.ph, bottom, w.pw, right, fill);
  }
  emit_pool(ctx, "MAX_POOL_2D", in, w, padding, n.outputs[0]);
}

void lower_avg_pool(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  if (!check_pool_input(ctx, x)) return;
  if (!n.is_none("divisor_override")) return ctx.unsupported("avg_pool2d with divisor_override is not supported");
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
  std::string padding = "VALID";
  if (w.ph == 0 && w.pw == 0 && bottom == 0 && right == 0) {
    padding = "VALID";
  } else if (!include_pad && torch_pad_is_same(H, w.kh, w.sh, w.ph, 1, ceil) &&
             torch_pad_is_same(W, w.kw, w.sw, w.pw, 1, ceil)) {
    padding = "SAME";
  } else if (include_pad && (oh - 1) * w.sh + w.kh <= H + 2 * w.ph && (ow - 1) * w.sw + w.kw <= W + 2 * w.pw) {
    // Every window lies inside the zero-padded input, so dividing by k·k matches PyTorch.
    in = pad_nhwc(ctx, in, w.ph, w.ph, w.pw, w.pw, 0.0f);  // zeros count, as in PyTorch
  } else {
    return ctx.unsupported("avg_pool2d with this padding/ceil_mode/count_include_pad combination is not supported yet");
  }
  emit_pool(ctx, "AVERAGE_POOL_2D", in, w, padding, n.outputs[0]);
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
    ir::Node* m = ctx.emit("MEAN", {in, ctx.const_i32(axes, {2})}, {out});
    m->set("keep_dims", true);
    return;
  }
  if (H % out_size[0] != 0 || W % out_size[1] != 0)
    return ctx.unsupported("adaptive avg pool with an output size that does not divide the input (" +
                           std::to_string(H) + "x" + std::to_string(W) + " → " + std::to_string(out_size[0]) +
                           "x" + std::to_string(out_size[1]) + ") is not supported");
  const Window w{H / out_size[0], W / out_size[1], H / out_size[0], W / out_size[1], 0, 0};
  emit_pool(ctx, "AVERAGE_POOL_2D", in, w, "VALID", n.outputs[0]);
}

}  // namespace

void register_pool_rules(Registry& r) {
  r.add("aten.max_pool2d_with_indices.default", lower_max_pool, "MAX_POOL_2D (+PAD / PADV2)",
        "indices must be unused; SAME when equivalent, else PAD(0) after a ReLU or PADV2(-inf), + VALID; ceil_mode handled; "
        "1x1 window with stride > 1 → DEPTHWISE_CONV_2D (XNNPACK refuses that pool)");
  r.add("aten.avg_pool2d.default", lower_avg_pool, "AVERAGE_POOL_2D (+PAD)",
        "count_include_pad=False → SAME when equivalent; True → PAD(0) + VALID; no divisor_override; "
        "1x1 window with stride > 1 → DEPTHWISE_CONV_2D (XNNPACK refuses that pool)");
  r.add("aten._adaptive_avg_pool2d.default", lower_adaptive_avg_pool, "MEAN, AVERAGE_POOL_2D",
        "output 1x1 → MEAN over H, W; otherwise the output size must divide the input");
}

}  // namespace pt2tflite::lower
