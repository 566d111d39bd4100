#include "ir/fused_activation.h"

#include <algorithm>
#include <array>

namespace pt2tflite::ir {
namespace {

// Each op's builtin kernel clamps with CalculateActivationRange(params->activation) and
// XNNPACK's delegate turns the activation into the node's output range. Checked against the
// runtime by tests/python/test_fused_activation.py. Deliberately absent:
// - CONCATENATION: the builtin kernel refuses any activation, XNNPACK ignores it;
// - TRANSPOSE_CONV: older builtin kernels and XNNPACK ignore it.
constexpr std::array<std::string_view, 9> kAcceptsFusedActivation = {
    "tfl.ADD",      "tfl.SUB",       "tfl.MUL",           "tfl.DIV",           "tfl.CONV_2D",
    "tfl.DEPTHWISE_CONV_2D", "tfl.FULLY_CONNECTED", "tfl.MAX_POOL_2D", "tfl.AVERAGE_POOL_2D"};

// TANH and SIGN_BIT exist as fused activations in the schema, but XNNPACK refuses them.
constexpr std::array<std::string_view, 3> kFusableActivations = {"tfl.RELU", "tfl.RELU6", "tfl.RELU_N1_TO_1"};

}  // namespace

bool accepts_fused_activation(std::string_view op) {
  return std::find(kAcceptsFusedActivation.begin(), kAcceptsFusedActivation.end(), op) != kAcceptsFusedActivation.end();
}

std::span<const std::string_view> ops_accepting_fused_activation() { return kAcceptsFusedActivation; }

bool is_fusable_activation(std::string_view op) {
  return std::find(kFusableActivations.begin(), kFusableActivations.end(), op) != kFusableActivations.end();
}

}  // namespace pt2tflite::ir
