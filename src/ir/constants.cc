#include "ir/constants.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "util/check.h"

namespace pt2tflite::ir {

std::vector<uint8_t> permute_bytes(std::span<const uint8_t> data, size_t es, const std::vector<int64_t>& sizes,
                                   const std::vector<int>& perm) {
  const int rank = static_cast<int>(sizes.size());
  std::vector<int64_t> in_strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) in_strides[d] = in_strides[d + 1] * sizes[d + 1];
  std::vector<int64_t> out_sizes(rank), step(rank);
  for (int i = 0; i < rank; ++i) {
    out_sizes[i] = sizes[perm[i]];
    step[i] = in_strides[perm[i]];
  }
  std::vector<uint8_t> out(data.size());
  std::vector<int64_t> idx(rank, 0);
  int64_t n = static_cast<int64_t>(data.size() / es), src = 0;
  for (int64_t o = 0; o < n; ++o) {
    std::memcpy(out.data() + o * es, data.data() + src * es, es);
    for (int d = rank - 1; d >= 0; --d) {
      src += step[d];
      if (++idx[d] < out_sizes[d]) break;
      src -= step[d] * out_sizes[d];
      idx[d] = 0;
    }
  }
  return out;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xFF) - 127 + 15;
  uint32_t mant = x & 0x7FFFFFu;
  if (((x >> 23) & 0xFF) == 0xFF) return static_cast<uint16_t>(sign | 0x7C00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7C00u);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = (mant >> shift) + ((mant >> (shift - 1)) & 1u);  // round half up (ties are rare)
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1FFFu;  // round to nearest even
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(half);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FFu, x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {  // subnormal half: normalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --exp;
      }
      x = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
    }
  } else if (exp == 31) {
    x = sign | 0x7F800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

int64_t saturating_int64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
  if (v <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

float saturating_float(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (v > kMax) return std::numeric_limits<float>::infinity();
  if (v < -kMax) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(v);  // NaN stays NaN
}

// Round to nearest even on the 16 bits kept; a NaN stays a (quiet) NaN.
uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

float bf16_to_f32(uint16_t h) {
  uint32_t x = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

namespace {
// real = scale · (q - zero_point), with the parameters of the element's channel along `q.axis`.
void dequantize_in_place(std::vector<float>& values, const ir::QuantParams& q, const std::vector<int64_t>& sizes) {
  // Blockwise scales (int4 weights) are read by the runtime only; no pass reads them back.
  PT2_CHECK(!q.blockwise && !q.scale.empty() && q.scale.size() == q.zero_point.size(),
            "no float view of a blockwise or scale-less quantized constant");
  int64_t inner = 1;
  for (size_t d = q.axis + 1; d < sizes.size(); ++d) inner *= sizes[d];
  const int64_t channels = static_cast<int64_t>(q.scale.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t c = channels == 1 ? 0 : (static_cast<int64_t>(i) / inner) % channels;
    values[i] = q.scale[c] * (values[i] - static_cast<float>(q.zero_point[c]));
  }
}
}  // namespace

std::vector<int8_t> unpack_int4(std::span<const uint8_t> packed, int64_t n) {
  PT2_CHECK(n >= 0 && static_cast<uint64_t>(n) <= 2 * packed.size(),
            "int4 data holds " << packed.size() << " bytes, not " << n << " values");
  std::vector<int8_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int nibble = (packed[i / 2] >> (4 * (i % 2))) & 0xF;
    out[i] = static_cast<int8_t>(nibble >= 8 ? nibble - 16 : nibble);
  }
  return out;
}

std::vector<float> to_float_vector(const Value& v) {
  PT2_CHECK(v.data, "value " << v.name << " is not a constant");
  const auto& d = *v.data;
  std::vector<float> out;
  auto conv = [&](auto span) {
    out.reserve(span.size());
    for (auto x : span) out.push_back(static_cast<float>(x));
  };
  switch (v.dtype) {
    case DType::kFloat32: conv(d.as<float>()); break;
    case DType::kFloat64: conv(d.as<double>()); break;
    case DType::kFloat16:
      for (uint16_t h : d.as<uint16_t>()) out.push_back(f16_to_f32(h));
      break;
    case DType::kBFloat16:
      for (uint16_t h : d.as<uint16_t>()) out.push_back(bf16_to_f32(h));
      break;
    case DType::kInt8: conv(d.as<int8_t>()); break;
    case DType::kUInt8:
    case DType::kBool: conv(d.as<uint8_t>()); break;
    case DType::kInt16: conv(d.as<int16_t>()); break;
    case DType::kInt32: conv(d.as<int32_t>()); break;
    case DType::kInt64: conv(d.as<int64_t>()); break;
    case DType::kInt4: conv(std::span<const int8_t>(unpack_int4(d.bytes(), num_elements(v.shape)))); break;
  }
  if (v.quant) dequantize_in_place(out, *v.quant, ir::sizes_of(v.shape));
  return out;
}

std::vector<int64_t> to_int_vector(const Value& v) {
  PT2_CHECK(v.data, "value " << v.name << " is not a constant");
  const auto& d = *v.data;
  std::vector<int64_t> out;
  auto conv = [&](auto span) {
    for (auto x : span) out.push_back(static_cast<int64_t>(x));
  };
  switch (v.dtype) {
    case DType::kInt8: conv(d.as<int8_t>()); break;
    case DType::kUInt8:
    case DType::kBool: conv(d.as<uint8_t>()); break;
    case DType::kInt16: conv(d.as<int16_t>()); break;
    case DType::kInt32: conv(d.as<int32_t>()); break;
    case DType::kInt64: conv(d.as<int64_t>()); break;
    case DType::kInt4: conv(std::span<const int8_t>(unpack_int4(d.bytes(), num_elements(v.shape)))); break;
    default:
      for (float f : to_float_vector(v)) out.push_back(saturating_int64(f));
  }
  return out;
}

std::vector<uint8_t> from_float_vector(std::span<const float> values, DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return to_bytes(values);
    case DType::kFloat16: {
      std::vector<uint16_t> h;
      for (float f : values) h.push_back(f32_to_f16(f));
      return to_bytes(std::span<const uint16_t>(h));
    }
    case DType::kBFloat16: {
      std::vector<uint16_t> h;
      for (float f : values) h.push_back(f32_to_bf16(f));
      return to_bytes(std::span<const uint16_t>(h));
    }
    case DType::kFloat64: {
      std::vector<double> d(values.begin(), values.end());
      return to_bytes(std::span<const double>(d));
    }
    default: {
      // Integers: from_int_vector handles every integer dtype but packed int4, which only
      // weight_quant writes (from its own bytes). A fuzzed bfloat16 constant once bounced between
      // the two functions here until the stack overflowed.
      PT2_CHECK(dtype != DType::kInt4, "int4 constants are packed by weight_quant only");
      std::vector<int64_t> ints;
      for (float f : values) ints.push_back(saturating_int64(f));
      return from_int_vector(ints, dtype);
    }
  }
}

std::vector<uint8_t> from_int_vector(std::span<const int64_t> values, DType dtype) {
  auto narrow = [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> t(values.begin(), values.end());
    return to_bytes(std::span<const T>(t));
  };
  switch (dtype) {
    case DType::kInt64: return to_bytes(values);
    case DType::kInt32: return narrow(int32_t{});
    case DType::kInt16: return narrow(int16_t{});
    case DType::kInt8: return narrow(int8_t{});
    case DType::kUInt8: return narrow(uint8_t{});
    case DType::kBool: {
      std::vector<uint8_t> b;
      for (int64_t x : values) b.push_back(x != 0);
      return b;
    }
    default: {
      std::vector<float> f(values.begin(), values.end());
      return from_float_vector(f, dtype);
    }
  }
}

// Row-major offset of each output element in an input of shape `in` broadcast to `out`
// (numpy rules: trailing dims aligned, size-1 dims repeated).
std::vector<int64_t> broadcast_offsets(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  const int rank = static_cast<int>(out.size()), lead = rank - static_cast<int>(in.size());
  std::vector<int64_t> stride(rank, 0);
  for (int64_t d = rank - 1, s = 1; d >= lead; --d) {
    const int64_t n = in[d - lead];
    stride[d] = n == 1 ? 0 : s;
    s *= n;
  }
  int64_t total = 1;
  for (int64_t n : out) total *= n;
  std::vector<int64_t> offsets(total), idx(rank, 0);
  int64_t at = 0;
  for (int64_t o = 0; o < total; ++o) {
    offsets[o] = at;
    for (int d = rank - 1; d >= 0; --d) {
      at += stride[d];
      if (++idx[d] < out[d]) break;
      at -= stride[d] * out[d];
      idx[d] = 0;
    }
  }
  return offsets;
}

}  // namespace pt2tflite::ir
