// Which TFLite ops may carry a fused activation. The schema lets many ops hold one
// (CONCATENATION has the field), but only some kernels apply it: the builtin CONCATENATION kernel
// refuses a fused activation and XNNPACK silently ignores it, which once made relu(cat(a, b))
// return negative numbers. This is the one table every pass asks; the writer refuses anything else.
#pragma once

#include <string_view>

namespace pt2tflite::ir {

// True when both LiteRT's builtin kernel and XNNPACK apply a fused activation on `op` ("tfl.ADD").
bool accepts_fused_activation(std::string_view op);

// True for the activations a kernel can fuse ("tfl.RELU", "tfl.RELU6", "tfl.RELU_N1_TO_1").
bool is_fusable_activation(std::string_view op);

}  // namespace pt2tflite::ir
