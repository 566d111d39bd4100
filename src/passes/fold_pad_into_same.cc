// A zero PAD of H and W in front of a VALID CONV_2D / DEPTHWISE_CONV_2D is dropped when it pads
// exactly as TFLite's SAME would (SAME: total = max((ceil(in/s) - 1)·s + (k-1)·d + 1 - in, 0),
// total/2 before and the rest after), and the convolution becomes SAME. TF-ported models pad
// explicitly this way (timm's Conv2dSame). Pools are left alone: SAME pooling skips the padded
// taps (AVERAGE counts fewer, MAX never sees the zeros), which zero padding does not.
#include <algorithm>
#include <utility>

#include "ir/constants.h"
#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

// TFLite's SAME padding (before, after) along one dim.
std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t k, int64_t stride, int64_t dilation) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + (k - 1) * dilation + 1 - in, 0);
  return {total / 2, total - total / 2};
}

}  // namespace

void fold_pad_into_same(ir::Graph& g) {
  for (const auto& conv : g.nodes()) {
    if (!conv->is(ir::TflOp::CONV_2D) && !conv->is(ir::TflOp::DEPTHWISE_CONV_2D)) continue;
    if (ir::padding(*conv) != ir::Padding::VALID) continue;
    const ir::Node* pad = conv->inputs[0]->producer;
    if (!pad || !pad->is(ir::TflOp::PAD) || !pad->inputs[1]->is_const()) continue;
    const ir::Value* x = pad->inputs[0];
    if (x->rank() != 4 || !ir::is_fully_static(x->shape) || x->quant != conv->inputs[0]->quant) continue;
    const std::vector<int64_t> p = ir::to_int_vector(*pad->inputs[1]);  // [4, 2]: (before, after) per dim
    if (p[0] || p[1] || p[6] || p[7]) continue;                         // N and C unpadded
    const ir::Value* filter = conv->inputs[1];
    const int64_t kh = filter->shape[1].size, kw = filter->shape[2].size;
    const auto h = same_padding(x->shape[1].size, kh, conv->get_int("stride_h"), conv->get_int("dilation_h"));
    const auto w = same_padding(x->shape[2].size, kw, conv->get_int("stride_w"), conv->get_int("dilation_w"));
    if (h != std::make_pair(p[2], p[3]) || w != std::make_pair(p[4], p[5])) continue;
    conv->inputs[0] = pad->inputs[0];
    ir::set_padding(*conv, ir::Padding::SAME);
  }
  g.remove_dead();
}

}  // namespace pt2tflite::passes
