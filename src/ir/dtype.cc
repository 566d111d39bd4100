#include "ir/dtype.h"

#include <optional>

#include "util/check.h"

namespace pt2tflite::ir {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat64:
    case DType::kInt64: return 8;
    case DType::kFloat32:
    case DType::kInt32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kInt16: return 2;
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool: return 1;
    case DType::kInt4: PT2_CHECK(false, "int4 has no whole-byte element size; use storage_bytes");
  }
  return 0;
}

size_t storage_bytes(DType t, int64_t elements) {
  const auto n = static_cast<size_t>(elements);
  return t == DType::kInt4 ? (n + 1) / 2 : n * dtype_size(t);
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "f32";
    case DType::kFloat16: return "f16";
    case DType::kBFloat16: return "bf16";
    case DType::kFloat64: return "f64";
    case DType::kInt8: return "i8";
    case DType::kUInt8: return "u8";
    case DType::kInt16: return "i16";
    case DType::kInt32: return "i32";
    case DType::kInt64: return "i64";
    case DType::kBool: return "bool";
    case DType::kInt4: return "i4";
  }
  return "?";
}

bool is_floating(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kFloat64;
}

int64_t wrap_int(int64_t v, DType t) {
  switch (t) {
    case DType::kInt8: return static_cast<int8_t>(v);
    case DType::kUInt8: return static_cast<uint8_t>(v);
    case DType::kInt16: return static_cast<int16_t>(v);
    case DType::kInt32: return static_cast<int32_t>(v);
    case DType::kBool: return v != 0;
    default: return v;
  }
}

namespace {

// Floating dtypes by width; float16 and bfloat16 share a rank (their promotion is float32).
int float_rank(DType t) { return t == DType::kFloat64 ? 3 : t == DType::kFloat32 ? 2 : 1; }

// c10's combine_categories: the dtype of a higher-priority group, unless a lower group raises its
// category (a float scalar makes an integer tensor's math float32, the default dtype).
std::optional<DType> combine_categories(std::optional<DType> higher, std::optional<DType> lower) {
  if (!higher) return lower;
  if (!lower || is_floating(*higher)) return higher;
  if (*higher == DType::kBool || is_floating(*lower)) return promote_types(*higher, *lower);
  return higher;
}

}  // namespace

DType promote_types(DType a, DType b) {
  if (a == DType::kInt4) a = DType::kInt8;
  if (b == DType::kInt4) b = DType::kInt8;
  if (a == b) return a;
  if (a == DType::kBool) return b;
  if (b == DType::kBool) return a;
  if (is_floating(a) && is_floating(b)) {
    if (float_rank(a) == float_rank(b)) return DType::kFloat32;  // float16 with bfloat16
    return float_rank(a) > float_rank(b) ? a : b;
  }
  if (is_floating(a)) return a;
  if (is_floating(b)) return b;
  // Two integer dtypes: uint8 with a signed one needs the next signed width that holds both.
  if (a == DType::kUInt8 || b == DType::kUInt8) {
    const DType s = a == DType::kUInt8 ? b : a;
    return s == DType::kInt8 ? DType::kInt16 : s;
  }
  return dtype_size(a) > dtype_size(b) ? a : b;
}

DType result_type(std::span<const PromotionOperand> operands) {
  std::optional<DType> group[3];
  for (const PromotionOperand& o : operands) {
    DType t = o.dtype;
    // A Python float computes in the default dtype.
    if (o.rank == PromotionRank::kWrappedNumber && is_floating(t)) t = DType::kFloat32;
    std::optional<DType>& g = group[static_cast<int>(o.rank)];
    g = g ? promote_types(*g, t) : t;
  }
  const std::optional<DType> r = combine_categories(group[0], combine_categories(group[1], group[2]));
  PT2_CHECK(r.has_value(), "result_type of no operands");
  return *r;
}

std::optional<DType> dtype_from_torch_scalar_type(int64_t scalar_type) {
  switch (scalar_type) {
    case 1: return DType::kUInt8;
    case 2: return DType::kInt8;
    case 3: return DType::kInt16;
    case 4: return DType::kInt32;
    case 5: return DType::kInt64;
    case 6: return DType::kFloat16;
    case 7: return DType::kFloat32;
    case 8: return DType::kFloat64;
    case 12: return DType::kBool;
    case 13: return DType::kBFloat16;
    default: return std::nullopt;
  }
}

}  // namespace pt2tflite::ir
