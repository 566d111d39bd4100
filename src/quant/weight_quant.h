// The arithmetic of convert-time weight quantization (passes/weight_quant.cc): symmetric int8
// per channel and symmetric int4 in blocks, with zero point 0, exactly as LiteRT's kernels read
// them back: real = scale · q. Rounding is to nearest, so |real - w| <= scale / 2 for every weight.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace pt2tflite::quant {

// int8 values in [-127, 127] and one float32 scale per channel.
struct Int8PerChannel {
  std::vector<int8_t> values;
  std::vector<float> scales;
};

// Quantizes `w` channel by channel: element i belongs to channel (i / inner) % channels (the
// channel axis has `inner` elements after it). scale = max|w| / 127 over the channel, never below
// FLT_MIN (LiteRT and XNNPACK want normal, positive scales; an all-zero channel gets 1).
Int8PerChannel quantize_int8_per_channel(std::span<const float> w, int64_t channels, int64_t inner);

// int4 values packed two per byte and one float16 scale per block.
struct Int4Blockwise {
  std::vector<uint8_t> packed;        // pack_int4 of the [rows, cols] values
  std::vector<uint16_t> fp16_scales;  // [rows, cols / block] float16 bits
};

// Quantizes the row-major [rows, cols] matrix `w` in blocks of `block` consecutive elements of a
// row (cols % block == 0). scale = max|w| / 7 over the block, rounded to float16 and kept at or
// above the smallest normal float16 (XNNPACK refuses other scales); q in [-7, 7]. nullopt when a
// scale does not fit float16 (a weight above ~458000).
std::optional<Int4Blockwise> quantize_int4_blockwise(std::span<const float> w, int64_t rows, int64_t cols,
                                                     int64_t block);

// Packs int4 values (each in [-8, 7]) as TFLite does: element 2i in the low nibble of byte i,
// element 2i + 1 in the high nibble (tensor_utils::UnpackDenseInt4IntoInt8); an odd count leaves
// the last high nibble 0.
std::vector<uint8_t> pack_int4(std::span<const int8_t> values);

// Element i of packed int4 data, sign-extended.
int8_t unpack_int4(std::span<const uint8_t> packed, int64_t i);

}  // namespace pt2tflite::quant
