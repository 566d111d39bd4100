// Which TFLite ops may carry a fused activation. The schema lets many ops hold one
// (CONCATENATION has the field), but only some kernels apply it: the builtin CONCATENATION kernel
// refuses a fused activation and XNNPACK silently ignores it, which once made relu(cat(a, b))
// return negative numbers. This is the one table every pass asks; the writer refuses anything else.
#pragma once

#include <span>
#include <string_view>

namespace pt2tflite::ir {

// True when both LiteRT's builtin kernel and XNNPACK apply a fused activation on `op` ("tfl.ADD").
bool accepts_fused_activation(std::string_view op);

// Every op accepts_fused_activation() is true for (tests check each against the runtime).
std::span<const std::string_view> ops_accepting_fused_activation();

// True for the activations a kernel can fuse ("tfl.RELU", "tfl.RELU6", "tfl.RELU_N1_TO_1").
bool is_fusable_activation(std::string_view op);

}  // namespace pt2tflite::ir
