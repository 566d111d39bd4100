#include "quant/weight_quant.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "ir/constants.h"
#include "util/check.h"

namespace pt2tflite::quant {
namespace {

constexpr int kInt8Max = 127;
constexpr int kInt4Max = 7;
constexpr int kInt4Min = -8;
constexpr uint16_t kSmallestNormalFp16 = 0x0400;  // 2^-14
constexpr uint16_t kLargestFp16 = 0x7BFF;         // 65504

// round(w / scale) clamped to [lo, hi]; in double so that the division itself adds no error. A NaN
// weight (or an infinite one, whose channel scale is then infinite too) gives 0, not an undefined
// cast of NaN.
int quantize_one(float w, double scale, int lo, int hi) {
  const double q = std::round(static_cast<double>(w) / scale);
  if (std::isnan(q)) return 0;
  return static_cast<int>(std::clamp(q, static_cast<double>(lo), static_cast<double>(hi)));
}

}  // namespace

Int8PerChannel quantize_int8_per_channel(std::span<const float> w, int64_t channels, int64_t inner) {
  PT2_CHECK(channels > 0 && inner > 0 && w.size() % static_cast<size_t>(channels * inner) == 0,
            "weights of " << w.size() << " elements do not split into " << channels << " channels of " << inner);
  const auto channel_of = [&](size_t i) { return static_cast<int64_t>(i) / inner % channels; };
  std::vector<float> max_abs(channels, 0.0f);
  for (size_t i = 0; i < w.size(); ++i) max_abs[channel_of(i)] = std::max(max_abs[channel_of(i)], std::fabs(w[i]));
  Int8PerChannel out;
  out.scales.resize(channels);
  for (int64_t c = 0; c < channels; ++c)
    out.scales[c] = max_abs[c] == 0.0f ? 1.0f : std::max(max_abs[c] / kInt8Max, FLT_MIN);
  out.values.resize(w.size());
  for (size_t i = 0; i < w.size(); ++i)
    out.values[i] = static_cast<int8_t>(quantize_one(w[i], out.scales[channel_of(i)], -kInt8Max, kInt8Max));
  return out;
}

std::optional<Int4Blockwise> quantize_int4_blockwise(std::span<const float> w, int64_t rows, int64_t cols,
                                                     int64_t block) {
  PT2_CHECK(rows > 0 && block > 0 && cols % block == 0 && w.size() == static_cast<size_t>(rows * cols),
            "a [" << rows << ", " << cols << "] weight does not split into blocks of " << block);
  const int64_t blocks = rows * (cols / block);
  Int4Blockwise out;
  out.fp16_scales.resize(blocks);
  std::vector<int8_t> q(w.size());
  for (int64_t b = 0; b < blocks; ++b) {
    const std::span<const float> values = w.subspan(b * block, block);
    float max_abs = 0.0f;
    for (float v : values) max_abs = std::max(max_abs, std::fabs(v));
    uint16_t s = ir::f32_to_f16(max_abs / kInt4Max);
    if (!std::isfinite(max_abs) || (s & 0x7FFF) > kLargestFp16) return std::nullopt;
    s = std::max(s, kSmallestNormalFp16);
    out.fp16_scales[b] = s;
    const double scale = ir::f16_to_f32(s);
    for (int64_t i = 0; i < block; ++i)
      q[b * block + i] = static_cast<int8_t>(quantize_one(values[i], scale, kInt4Min, kInt4Max));
  }
  out.packed = pack_int4(q);
  return out;
}

std::vector<uint8_t> pack_int4(std::span<const int8_t> values) {
  std::vector<uint8_t> out((values.size() + 1) / 2, 0);
  for (size_t i = 0; i < values.size(); ++i) {
    PT2_CHECK(values[i] >= kInt4Min && values[i] <= kInt4Max, "int4 value " << int{values[i]} << " out of range");
    const auto nibble = static_cast<uint8_t>(values[i] & 0x0F);
    out[i / 2] |= i % 2 == 0 ? nibble : static_cast<uint8_t>(nibble << 4);
  }
  return out;
}

int8_t unpack_int4(std::span<const uint8_t> packed, int64_t i) {
  const uint8_t byte = packed[i / 2];
  const int nibble = i % 2 == 0 ? byte & 0x0F : byte >> 4;
  return static_cast<int8_t>(nibble >= 8 ? nibble - 16 : nibble);
}

}  // namespace pt2tflite::quant
