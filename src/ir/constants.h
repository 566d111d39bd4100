// Convert-time arithmetic on constant tensors: permutes, casts and reads used to fold weight
// preprocessing (permute, view, batch-norm scaling, ...) into the weights themselves.
#pragma once

#include <cstring>
#include <span>
#include <vector>

#include "ir/graph.h"

namespace pt2tflite::ir {

// Row-major permute of any dtype: out dim i = in dim perm[i].
std::vector<uint8_t> permute_bytes(std::span<const uint8_t> data, size_t elem_size, const std::vector<int64_t>& sizes,
                                   const std::vector<int>& perm);
// Row-major offset of each output element in an input of shape `in` broadcast to `out`
// (numpy rules: trailing dims aligned, size-1 dims repeated).
std::vector<int64_t> broadcast_offsets(const std::vector<int64_t>& in, const std::vector<int64_t>& out);
// The constant's values as float (from any float or integer dtype), dequantized when it has
// quantization parameters.
std::vector<float> to_float_vector(const Value& v);
// The constant's values as int64 (from any integer or bool dtype).
std::vector<int64_t> to_int_vector(const Value& v);
// IEEE float16 bits of `f`, rounded to nearest even (overflow gives infinity), and back.
// A float → int64 that truncates toward zero like a C cast but is defined everywhere: NaN gives 0,
// values beyond the range saturate (a C cast of those is undefined behaviour, and archive values
// can be anything).
int64_t saturating_int64(double v);
// double → float, ±infinity beyond float's range (a C cast of a finite value there is undefined).
float saturating_float(double v);

uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);
// Bytes of `values` converted to `dtype`.
std::vector<uint8_t> from_float_vector(std::span<const float> values, DType dtype);
std::vector<uint8_t> from_int_vector(std::span<const int64_t> values, DType dtype);

// bfloat16 bits → float (exact).
uint16_t f32_to_bf16(float f);
float bf16_to_f32(uint16_t h);
// The `n` values of a packed int4 tensor (two per byte, element 2i in the low nibble, as TFLite
// packs them), sign-extended.
std::vector<int8_t> unpack_int4(std::span<const uint8_t> packed, int64_t n);

template <typename T>
std::vector<uint8_t> to_bytes(std::span<const T> values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

}  // namespace pt2tflite::ir
