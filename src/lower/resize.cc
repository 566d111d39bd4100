// 2-D upsampling kept whole (not decomposed into index gathers) → RESIZE_NEAREST_NEIGHBOR /
// RESIZE_BILINEAR in NHWC. Coordinate rules (TFLite reference kernels vs ATen's
// area_pixel_compute_source_index): nearest with both flags false is PyTorch's 'nearest'
// (floor(dst · in/out)); bilinear align_corners=True ⇔ align_corners, False ⇔ half_pixel_centers.
#include <optional>

#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// PyTorch maps output to input coordinates with 1/scale when a scale is given, TFLite always
// with in/out: they agree exactly when out = in · scale.
bool scale_matches(std::optional<double> scale, int64_t in, int64_t out) {
  return !scale || static_cast<double>(in) * *scale == static_cast<double>(out);
}

// The scales (h, w) passed to the op: `scale_factors` of the .vec overloads, `scales_h/w` of .default.
std::pair<std::optional<double>, std::optional<double>> scales_of(const ir::Node& n) {
  if (const ir::Attr* a = n.find("scale_factors"); a && std::holds_alternative<std::vector<double>>(*a)) {
    const auto& s = std::get<std::vector<double>>(*a);
    return {s.at(0), s.at(1)};
  }
  auto one = [&](const char* k) -> std::optional<double> {
    if (!n.find(k) || n.is_none(k)) return std::nullopt;
    return n.get_float(k);
  };
  return {one("scales_h"), one("scales_w")};
}

void lower_resize(LowerCtx& ctx, const ir::Node& n, ir::TflOp op, bool bilinear) {
  const Value* x = n.get_tensor(n.find("input") ? "input" : "self");
  const Value* y = n.outputs.at(0);
  if (x->rank() != 4 || y->rank() != 4 || !ir::is_fully_static(y->shape))
    return ctx.unsupported("upsampling needs a 4-D input and a static output");
  const int64_t ih = x->shape[2].size, iw = x->shape[3].size, oh = y->shape[2].size, ow = y->shape[3].size;
  const bool align_corners = bilinear && n.get_bool("align_corners");
  auto [sh, sw] = scales_of(n);
  if (!align_corners && (!scale_matches(sh, ih, oh) || !scale_matches(sw, iw, ow)))
    return ctx.unsupported(
        "upsampling with a scale factor that is not output/input size (PyTorch maps "
        "coordinates by 1/scale, TFLite by input/output); pass size= instead");
  const Perm nhwc = channels_last_perm(4);
  std::vector<int32_t> size{static_cast<int32_t>(oh), static_cast<int32_t>(ow)};
  ir::Node* r = ctx.emit(op, {ctx.get(x, nhwc), ctx.const_i32(size, {2})}, {ctx.make_output(y, nhwc)});
  r->set("align_corners", align_corners);
  r->set("half_pixel_centers", bilinear && !align_corners);
}

void lower_nearest(LowerCtx& ctx, const ir::Node& n) {
  lower_resize(ctx, n, ir::TflOp::RESIZE_NEAREST_NEIGHBOR, false);
}
void lower_bilinear(LowerCtx& ctx, const ir::Node& n) { lower_resize(ctx, n, ir::TflOp::RESIZE_BILINEAR, true); }

}  // namespace

void register_resize_rules(Registry& r) {
  const char* note = "NHWC; a scale factor must equal output/input size";
  r.add("aten.upsample_nearest2d.vec", lower_nearest, "RESIZE_NEAREST_NEIGHBOR",
        std::string(note) + "; not delegated to XNNPACK")
      .keep_whole_in_decomposition();
  r.add("aten.upsample_nearest2d.default", lower_nearest, "RESIZE_NEAREST_NEIGHBOR",
        std::string(note) + "; not delegated to XNNPACK")
      .keep_whole_in_decomposition();
  r.add("aten.upsample_bilinear2d.vec", lower_bilinear, "RESIZE_BILINEAR",
        std::string(note) + "; align_corners=False → half_pixel_centers")
      .keep_whole_in_decomposition();
  r.add("aten.upsample_bilinear2d.default", lower_bilinear, "RESIZE_BILINEAR",
        std::string(note) + "; align_corners=False → half_pixel_centers")
      .keep_whole_in_decomposition();
}

}  // namespace pt2tflite::lower
