// Element types of IR values, and their mapping to PyTorch ScalarType codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace pt2tflite::ir {

enum class DType : uint8_t {
  kFloat32,
  kFloat16,
  kBFloat16,
  kFloat64,
  kInt8,
  kUInt8,
  kInt16,
  kInt32,
  kInt64,
  kBool,
  // Signed 4-bit integers packed two per byte, element 2i in the low nibble (TFLite INT4). Only
  // weight_quant's constants have it; size them with storage_bytes, never dtype_size.
  kInt4,
};

// Bytes per element (not defined for the packed kInt4).
size_t dtype_size(DType t);
// Bytes that `elements` values of `t` take in a buffer (kInt4 packs two per byte, rounded up).
size_t storage_bytes(DType t, int64_t elements);
// Short lowercase name used in IR dumps ("f32", "i64", ...).
std::string_view dtype_name(DType t);
bool is_floating(DType t);
// A Python int as PyTorch stores it in a tensor of dtype `t`: integers keep it modulo 2^bits, two's
// complement (c10's static_cast), so `x > -2` on a uint8 tensor compares with 254 and `x + 300`
// adds 44. Eager checks only the bounds of clamp / fill / where, and lets uint8 take -255..-1.
// Bool keeps v != 0; floating dtypes keep v.
int64_t wrap_int(int64_t v, DType t);

// How an operand takes part in PyTorch's type promotion (c10's ResultTypeState): tensors with
// dims decide the dtype; zero-dim tensors, then Python scalars ("wrapped numbers"), only raise
// its category (bool < integer < floating). A uint8 tensor plus the Python int -2, or plus a
// zero-dim int64 tensor, stays uint8.
enum class PromotionRank { kDimmed, kZeroDim, kWrappedNumber };
struct PromotionOperand {
  DType dtype;  // a Python int is kInt64, a float kFloat64, a bool kBool
  PromotionRank rank;
};
// torch.promote_types for two dtypes (uint8 with int8 is int16; float16 with bfloat16 is float32).
DType promote_types(DType a, DType b);
// torch.result_type of the operands (at least one).
DType result_type(std::span<const PromotionOperand> operands);

// PyTorch's serialized ScalarType enum (torch/_export/serde/schema.py) → DType; nullopt if unsupported.
std::optional<DType> dtype_from_torch_scalar_type(int64_t scalar_type);

}  // namespace pt2tflite::ir
