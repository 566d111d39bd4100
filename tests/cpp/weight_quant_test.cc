// The arithmetic of convert-time weight quantization (src/quant/weight_quant.h): every weight
// dequantizes to within half a step of its value, ranges and packing are TFLite's.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>

#include "ir/constants.h"
#include "quant/weight_quant.h"

namespace pt2tflite::quant {
namespace {

std::vector<float> random_weights(size_t n, float scale, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> w(n);
  for (float& v : w) v = dist(rng);
  return w;
}

TEST(Int8PerChannel, ErrorIsAtMostHalfAStepInEveryChannel) {
  const int64_t channels = 6, inner = 50;
  std::vector<float> w = random_weights(channels * inner * 3, 0.05f, 1);  // 3 outer slices
  w[7] = 2.5f;                                                            // one channel with an outlier
  const Int8PerChannel q = quantize_int8_per_channel(w, channels, inner);
  ASSERT_EQ(q.scales.size(), static_cast<size_t>(channels));
  for (size_t i = 0; i < w.size(); ++i) {
    const float s = q.scales[i / inner % channels];
    EXPECT_LE(std::fabs(s * q.values[i] - w[i]), s / 2 * (1 + 1e-6)) << "element " << i;
    EXPECT_GE(q.values[i], -127);  // symmetric: -128 is never used
  }
  // The largest magnitude of each channel maps to ±127 exactly.
  EXPECT_EQ(q.values[7], 127);
  EXPECT_FLOAT_EQ(q.scales[0], 2.5f / 127);
}

TEST(Int8PerChannel, RoundsToNearestAndClampsToSymmetricRange) {
  // One channel, max 127 → scale 1: values round to nearest (halves away from zero).
  const std::vector<float> w = {127.0f, -127.0f, 0.4f, 0.6f, -0.6f, 2.5f, -2.5f, 126.7f};
  const Int8PerChannel q = quantize_int8_per_channel(w, 1, static_cast<int64_t>(w.size()));
  EXPECT_FLOAT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(std::vector<int>(q.values.begin(), q.values.end()), (std::vector<int>{127, -127, 0, 1, -1, 3, -3, 127}));
}

TEST(Int8PerChannel, AllZeroAndTinyChannelsGetNormalPositiveScales) {
  const std::vector<float> w = {0.0f, 0.0f, 0.0f, 1e-40f, -1e-41f, 0.0f};  // channel 0 zero, channel 1 subnormal
  const Int8PerChannel q = quantize_int8_per_channel(w, 2, 3);
  for (float s : q.scales) EXPECT_TRUE(std::isnormal(s) && s > 0) << s;
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.scales[1], FLT_MIN);
  for (int8_t v : q.values) EXPECT_EQ(v, 0);
}

TEST(Int8PerChannel, NanAndInfiniteWeightsGiveZeroNotAnUndefinedCast) {
  // A hostile archive's weights may hold anything (UBSan float-cast-overflow catches a NaN cast).
  const std::vector<float> w = {std::nanf(""), 1.0f, -2.0f, INFINITY, 1.0f, 0.5f};
  const Int8PerChannel q = quantize_int8_per_channel(w, 2, 3);
  EXPECT_EQ(std::vector<int>(q.values.begin(), q.values.end()), (std::vector<int>{0, 64, -127, 0, 0, 0}));
}

TEST(Int4Blockwise, ErrorIsAtMostHalfAStepWithFloat16Scales) {
  const int64_t rows = 5, cols = 128, block = 32;
  std::vector<float> w = random_weights(rows * cols, 0.02f, 2);
  w[40] = -0.9f;
  auto q = quantize_int4_blockwise(w, rows, cols, block);
  ASSERT_TRUE(q.has_value());
  ASSERT_EQ(q->fp16_scales.size(), static_cast<size_t>(rows * cols / block));
  ASSERT_EQ(q->packed.size(), static_cast<size_t>(rows * cols / 2));
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float s = ir::f16_to_f32(q->fp16_scales[i / block]);  // row-major [rows, cols / block]
    const int v = unpack_int4(q->packed, i);
    EXPECT_GE(v, -8);
    EXPECT_LE(v, 7);
    EXPECT_LE(std::fabs(s * v - w[i]), s / 2 * (1 + 1e-6)) << "element " << i;
  }
  EXPECT_EQ(unpack_int4(q->packed, 40), -7);  // the block's largest magnitude is ±7
}

TEST(Int4Blockwise, ZeroBlocksGetTheSmallestNormalFloat16Scale) {
  const std::vector<float> w(64, 0.0f);
  auto q = quantize_int4_blockwise(w, 1, 64, 32);
  ASSERT_TRUE(q.has_value());
  for (uint16_t s : q->fp16_scales) EXPECT_EQ(s, 0x0400);  // 2^-14: XNNPACK wants normal scales
  for (uint8_t b : q->packed) EXPECT_EQ(b, 0);
}

TEST(Int4Blockwise, RefusesScalesBeyondFloat16) {
  std::vector<float> w(32, 1.0f);
  w[3] = 1e6f;  // scale 1e6 / 7 > 65504
  EXPECT_FALSE(quantize_int4_blockwise(w, 1, 32, 32).has_value());
}

TEST(Int4Packing, EvenElementsInTheLowNibbleLikeTflite) {
  // tensor_utils::UnpackDenseInt4IntoInt8: element 2i = sign-extended low nibble of byte i,
  // element 2i + 1 = the high nibble; an odd count leaves the last high nibble empty.
  const std::vector<int8_t> v = {1, -2, 7, -8, -1};
  const std::vector<uint8_t> packed = pack_int4(v);
  EXPECT_EQ(packed, (std::vector<uint8_t>{0xE1, 0x87, 0x0F}));
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(unpack_int4(packed, static_cast<int64_t>(i)), v[i]);
}

}  // namespace
}  // namespace pt2tflite::quant
