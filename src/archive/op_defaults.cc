#include "archive/op_defaults.h"

#include <limits>
#include <string>
#include <unordered_map>

namespace pt2tflite::archive {
namespace {

using Defaults = std::vector<std::pair<std::string_view, ir::Attr>>;
using Ints = std::vector<int64_t>;
constexpr std::monostate kNone{};

// Values transcribed from the schemas in aten/src/ATen/native/native_functions.yaml.
const std::unordered_map<std::string_view, Defaults>& table() {
  static const auto* t = new std::unordered_map<std::string_view, Defaults>{
      {"aten.add.Tensor", {{"alpha", int64_t{1}}}},
      {"aten.index_put.default", {{"accumulate", false}}},
      {"aten.add.Scalar", {{"alpha", int64_t{1}}}},
      {"aten.sub.Tensor", {{"alpha", int64_t{1}}}},
      {"aten.sub.Scalar", {{"alpha", int64_t{1}}}},
      {"aten.rsub.Scalar", {{"alpha", int64_t{1}}}},
      {"aten.rsub.Tensor", {{"alpha", int64_t{1}}}},
      {"aten.addmm.default", {{"beta", int64_t{1}}, {"alpha", int64_t{1}}}},
      {"aten.hardtanh.default", {{"min_val", -1.0}, {"max_val", 1.0}}},
      {"aten.clamp.default", {{"min", kNone}, {"max", kNone}}},
      {"aten.clamp.Tensor", {{"min", kNone}, {"max", kNone}}},
      {"aten.gelu.default", {{"approximate", std::string("none")}}},
      {"aten.leaky_relu.default", {{"negative_slope", 0.01}}},
      {"aten.elu.default", {{"alpha", 1.0}, {"scale", 1.0}, {"input_scale", 1.0}}},
      {"aten.softplus.default", {{"beta", 1.0}, {"threshold", 20.0}}},
      {"aten.mean.dim", {{"keepdim", false}, {"dtype", kNone}}},
      {"aten.mean.default", {{"dtype", kNone}}},
      {"aten.sum.dim_IntList", {{"keepdim", false}, {"dtype", kNone}}},
      {"aten.sum.default", {{"dtype", kNone}}},
      {"aten.amax.default", {{"dim", Ints{}}, {"keepdim", false}}},
      {"aten.amin.default", {{"dim", Ints{}}, {"keepdim", false}}},
      {"aten.any.dim", {{"keepdim", false}}},
      {"aten.all.dim", {{"keepdim", false}}},
      {"aten.argmax.default", {{"dim", kNone}, {"keepdim", false}}},
      {"aten.var.correction", {{"dim", kNone}, {"correction", kNone}, {"keepdim", false}}},
      {"aten.max_pool2d_with_indices.default",
       {{"stride", Ints{}}, {"padding", Ints{0}}, {"dilation", Ints{1}}, {"ceil_mode", false}}},
      {"aten.avg_pool2d.default",
       {{"stride", Ints{}},
        {"padding", Ints{0}},
        {"ceil_mode", false},
        {"count_include_pad", true},
        {"divisor_override", kNone}}},
      {"aten.cat.default", {{"dim", int64_t{0}}}},
      {"aten.roll.default", {{"dims", Ints{}}}},
      {"aten.split_with_sizes.default", {{"dim", int64_t{0}}}},
      {"aten.split.Tensor", {{"dim", int64_t{0}}}},
      {"aten.slice.Tensor",
       {{"dim", int64_t{0}}, {"start", kNone}, {"end", kNone}, {"step", int64_t{1}}}},
      {"aten.constant_pad_nd.default", {{"value", int64_t{0}}}},
      {"aten.embedding.default",
       {{"padding_idx", int64_t{-1}}, {"scale_grad_by_freq", false}, {"sparse", false}}},
      {"aten.expand.default", {{"implicit", false}}},
      {"aten.slice_scatter.default", {{"dim", int64_t{0}}, {"start", kNone}, {"end", kNone}, {"step", int64_t{1}}}},
      {"aten.copy.default", {{"non_blocking", false}}},
      {"aten.gather.default", {{"sparse_grad", false}}},
      {"aten.as_strided.default", {{"storage_offset", kNone}}},
      {"aten.clone.default", {{"memory_format", kNone}}},
      {"aten._to_copy.default",
       {{"dtype", kNone},
        {"layout", kNone},
        {"device", kNone},
        {"pin_memory", kNone},
        {"non_blocking", false},
        {"memory_format", kNone}}},
      {"aten.upsample_bilinear2d.default", {{"scales_h", kNone}, {"scales_w", kNone}}},
      {"aten.upsample_nearest2d.default", {{"scales_h", kNone}, {"scales_w", kNone}}},
      {"aten.cumsum.default", {{"dtype", kNone}}},
      {"aten._safe_softmax.default", {{"dtype", kNone}}},
      {"aten.full.default",
       {{"dtype", kNone}, {"layout", kNone}, {"device", kNone}, {"pin_memory", kNone}}},
      {"aten.full_like.default",
       {{"dtype", kNone}, {"layout", kNone}, {"device", kNone}, {"pin_memory", kNone}, {"memory_format", kNone}}},
      {"aten.arange.default", {{"dtype", kNone}, {"layout", kNone}, {"device", kNone}, {"pin_memory", kNone}}},
      {"aten.arange.start", {{"dtype", kNone}, {"layout", kNone}, {"device", kNone}, {"pin_memory", kNone}}},
      {"aten.arange.start_step",
       {{"step", int64_t{1}},
        {"dtype", kNone},
        {"layout", kNone},
        {"device", kNone},
        {"pin_memory", kNone}}},
      {"aten.scalar_tensor.default",
       {{"dtype", kNone}, {"layout", kNone}, {"device", kNone}, {"pin_memory", kNone}}},
      {"aten.linalg_vector_norm.default",
       {{"ord", 2.0}, {"dim", kNone}, {"keepdim", false}, {"dtype", kNone}}},
      {"quantized_decomposed.dequantize_per_tensor.default", {{"out_dtype", kNone}}},
      {"quantized_decomposed.dequantize_per_tensor.tensor", {{"out_dtype", kNone}}},
      {"quantized_decomposed.dequantize_per_channel.default", {{"out_dtype", kNone}}},
  };
  return *t;
}

}  // namespace

const Defaults& op_defaults(std::string_view op) {
  static const Defaults kEmpty;
  auto it = table().find(op);
  return it == table().end() ? kEmpty : it->second;
}

}  // namespace pt2tflite::archive
