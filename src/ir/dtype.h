// Element types of IR values, and their mapping to PyTorch ScalarType codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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
// PyTorch's serialized ScalarType enum (torch/_export/serde/schema.py) → DType; nullopt if unsupported.
std::optional<DType> dtype_from_torch_scalar_type(int64_t scalar_type);

}  // namespace pt2tflite::ir
