// grid_sampler_2d (F.grid_sample) built from elementwise ops and GATHER: the grid is unnormalized
// to pixel coordinates as PyTorch's CPU kernel does it, each corner's pixel is gathered from the
// NHWC input flattened to [N·H·W, C] at a flat index computed in float (exact below 2^24
// pixels), and the corners are blended with their weights. Zero padding multiplies by an
// in-bounds mask (indices are clamped, so GATHER never reads out of range); border padding clamps
// the coordinates first.
#include "lower/elementwise.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

struct Sampler {
  LowerCtx& ctx;
  Value* flat;        // input as [N·H·W, C]
  Value* batch_base;  // n·H·W as float [N, 1, 1, 1]
  int64_t N, H, W, C, Ho, Wo;
  bool zeros;

  Value* scalar(double v) { return ctx.scalar(ir::DType::kFloat32, v); }
  Value* op(ir::TflOp name, Value* a, Value* b) { return emit_elementwise(ctx, name, {a, b}); }
  Value* clamp(Value* v, int64_t hi) {
    return op(ir::TflOp::MINIMUM, op(ir::TflOp::MAXIMUM, v, scalar(0)), scalar(static_cast<double>(hi)));
  }

  // 1.0 where integer-valued coordinate `v` lies in [0, hi], else 0.0.
  Value* in_bounds(Value* v, Value* clamped) {
    Value* eq = ctx.make_temp(ir::DType::kBool, v->shape);
    ctx.emit(ir::TflOp::EQUAL, {v, clamped}, {eq});
    return ctx.cast(eq, ir::DType::kFloat32);
  }

  // The input's pixels at integer-valued float coordinates (x, y) [N, Ho, Wo, 1], as [N, Ho, Wo, C],
  // times `weight` (nullptr: 1) and, under zero padding, the in-bounds mask.
  Value* tap(Value* x, Value* y, Value* weight) {
    Value* xc = clamp(x, W - 1);
    Value* yc = clamp(y, H - 1);
    if (zeros) {
      Value* mask = op(ir::TflOp::MUL, in_bounds(x, xc), in_bounds(y, yc));
      weight = weight ? op(ir::TflOp::MUL, mask, weight) : mask;
    }
    Value* index =
        op(ir::TflOp::ADD, op(ir::TflOp::ADD, op(ir::TflOp::MUL, yc, scalar(static_cast<double>(W))), xc), batch_base);
    Value* i32 = ctx.reshape(ctx.cast(index, ir::DType::kInt32), {N, Ho, Wo});
    std::vector<int64_t> out{N, Ho, Wo, C};
    Value* pixels = ctx.make_temp(ir::DType::kFloat32, ir::static_shape(out));
    ctx.emit(ir::TflOp::GATHER, {flat, i32}, {pixels})->set("axis", int64_t{0});
    return weight ? op(ir::TflOp::MUL, pixels, weight) : pixels;
  }
};

// align_corners: (g + 1)·(size - 1)/2; otherwise (g + 1)·size/2 - 0.5 (PyTorch's CPU kernel).
Value* unnormalize(Sampler& s, Value* g, int64_t size, bool align_corners) {
  Value* shifted = s.op(ir::TflOp::ADD, g, s.scalar(1.0));
  if (align_corners) return s.op(ir::TflOp::MUL, shifted, s.scalar(static_cast<double>(size - 1) / 2.0));
  return s.op(ir::TflOp::SUB, s.op(ir::TflOp::MUL, shifted, s.scalar(static_cast<double>(size) / 2.0)), s.scalar(0.5));
}

void lower_grid_sampler_2d(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("input");
  const Value* grid = n.get_tensor("grid");
  const int64_t mode = n.get_int("interpolation_mode"), padding = n.get_int("padding_mode");
  const bool align_corners = n.get_bool("align_corners");
  if (x->rank() != 4 || !ir::is_fully_static(x->shape) || !ir::is_fully_static(grid->shape))
    return ctx.unsupported("grid_sampler_2d needs static 4-D input and grid");
  if (x->dtype != ir::DType::kFloat32 || grid->dtype != ir::DType::kFloat32)
    return ctx.unsupported("grid_sampler_2d is lowered for float32 only");
  if (mode != 0 && mode != 1) return ctx.unsupported("grid_sampler_2d: bicubic interpolation is not supported");
  if (padding != 0 && padding != 1) return ctx.unsupported("grid_sampler_2d: reflection padding is not supported");
  const int64_t N = x->shape[0].size, C = x->shape[1].size, H = x->shape[2].size, W = x->shape[3].size;
  const int64_t Ho = grid->shape[1].size, Wo = grid->shape[2].size;
  if (N * H * W >= (int64_t{1} << 24)) return ctx.unsupported("grid_sampler_2d: input too large for float indices");
  Value* in = ctx.get(x, channels_last_perm(4));
  std::vector<float> base(N);
  for (int64_t i = 0; i < N; ++i) base[i] = static_cast<float>(i * H * W);
  Sampler s{ctx, ctx.reshape(in, {N * H * W, C}), ctx.const_f32(base, {N, 1, 1, 1}), N, H, W, C, Ho, Wo, padding == 0};
  Value* g = ctx.get(grid, {});
  Value* ix = unnormalize(s, ctx.slice(g, 3, 0, 1), W, align_corners);
  Value* iy = unnormalize(s, ctx.slice(g, 3, 1, 1), H, align_corners);
  if (padding == 1) {
    ix = s.clamp(ix, W - 1);
    iy = s.clamp(iy, H - 1);
  }
  Value* one = s.scalar(1.0);
  Value* result = nullptr;
  if (mode == 1) {  // nearest: round half to even, as PyTorch's nearbyint
    result =
        s.tap(emit_elementwise(ctx, ir::TflOp::ROUND, {ix}), emit_elementwise(ctx, ir::TflOp::ROUND, {iy}), nullptr);
  } else {
    Value* x0 = emit_elementwise(ctx, ir::TflOp::FLOOR, {ix});
    Value* y0 = emit_elementwise(ctx, ir::TflOp::FLOOR, {iy});
    Value* x1 = s.op(ir::TflOp::ADD, x0, one);
    Value* y1 = s.op(ir::TflOp::ADD, y0, one);
    Value *wx1 = s.op(ir::TflOp::SUB, ix, x0), *wx0 = s.op(ir::TflOp::SUB, x1, ix);
    Value *wy1 = s.op(ir::TflOp::SUB, iy, y0), *wy0 = s.op(ir::TflOp::SUB, y1, iy);
    result = s.tap(x0, y0, s.op(ir::TflOp::MUL, wx0, wy0));
    result = s.op(ir::TflOp::ADD, result, s.tap(x1, y0, s.op(ir::TflOp::MUL, wx1, wy0)));
    result = s.op(ir::TflOp::ADD, result, s.tap(x0, y1, s.op(ir::TflOp::MUL, wx0, wy1)));
    result = s.op(ir::TflOp::ADD, result, s.tap(x1, y1, s.op(ir::TflOp::MUL, wx1, wy1)));
  }
  ctx.bind(n.outputs.at(0), result, channels_last_perm(4));
}

}  // namespace

void register_sample_rules(Registry& r) {
  r.add("aten.grid_sampler_2d.default", lower_grid_sampler_2d, "GATHER + elementwise (FLOOR / ROUND, MUL, ADD, ...)",
        "bilinear and nearest; zeros and border padding; align_corners both ways; float32, static shapes; "
        "GATHER, EQUAL and CAST are not delegated to XNNPACK");
}

}  // namespace pt2tflite::lower
