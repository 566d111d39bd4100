#include "archive/constant_payload.h"

#include <cstring>

namespace pt2tflite::archive {
namespace {

// Zeros standing in for empty storages, over the whole archive.
constexpr uint64_t kMaxSynthesizedBytes = uint64_t{1} << 28;

uint64_t checked_mul(uint64_t a, uint64_t b, const Where& at) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) at.fail("tensor size overflows 64 bits");
  return r;
}

uint64_t checked_add(uint64_t a, uint64_t b, const Where& at) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) at.fail("tensor span overflows 64 bits");
  return r;
}

}  // namespace

PayloadLayout payload_layout(const json& meta, const Where& at) {
  PayloadLayout l;
  auto dt = ir::dtype_from_torch_scalar_type(int_of(field(meta, "dtype", at), at.key("dtype")));
  if (!dt) at.key("dtype").fail("unsupported dtype code " + field(meta, "dtype", at).dump());
  l.dtype = *dt;
  auto ints = [&](const char* key, std::vector<int64_t>& out) {
    Where w = at.key(key);
    const json& list = array_at(field(meta, key, at), w);
    if (list.size() > static_cast<size_t>(kMaxRank))
      w.fail("rank " + std::to_string(list.size()) + " is above " + std::to_string(kMaxRank));
    for (size_t i = 0; i < list.size(); ++i) {
      const json& d = list[i];
      const json* as_int = optional_field(d, "as_int");
      if (!as_int) w.index(i).fail("a stored constant must have static sizes and strides");
      int64_t v = int_of(*as_int, w.index(i));
      if (v < 0) w.index(i).fail("negative value " + std::to_string(v));
      out.push_back(v);
    }
  };
  ints("sizes", l.sizes);
  ints("strides", l.strides);
  if (l.sizes.size() != l.strides.size())
    at.fail(std::to_string(l.sizes.size()) + " sizes but " + std::to_string(l.strides.size()) + " strides");
  const json& off = field(meta, "storage_offset", at);
  const json* off_int = optional_field(off, "as_int");
  if (!off_int) at.key("storage_offset").fail("expected {\"as_int\": N}");
  l.storage_offset = int_of(*off_int, at.key("storage_offset"));
  if (l.storage_offset < 0) at.key("storage_offset").fail("negative storage offset");
  return l;
}

ir::ConstData payload_data(const PayloadLayout& l, std::span<const uint8_t> storage,
                           const std::shared_ptr<const void>& owner, bool file_mapped, uint64_t& synthesized_bytes,
                           const Where& at) {
  const uint64_t esize = ir::dtype_size(l.dtype);
  uint64_t numel = 1, last = static_cast<uint64_t>(l.storage_offset);  // highest element index read
  for (size_t i = 0; i < l.sizes.size(); ++i) {
    numel = checked_mul(numel, static_cast<uint64_t>(l.sizes[i]), at);
    if (l.sizes[i] > 0)
      last = checked_add(
          last, checked_mul(static_cast<uint64_t>(l.sizes[i] - 1), static_cast<uint64_t>(l.strides[i]), at), at);
  }
  const uint64_t bytes = checked_mul(numel, esize, at);
  if (bytes > kMaxTensorBytes) at.fail("a constant of " + std::to_string(bytes) + " bytes is above the limit");
  if (numel == 0) return ir::ConstData::own({});
  if (storage.empty()) {  // fake/empty storage means zeros of `sizes`
    synthesized_bytes = checked_add(synthesized_bytes, bytes, at);
    if (synthesized_bytes > kMaxSynthesizedBytes)
      at.fail("more than " + std::to_string(kMaxSynthesizedBytes) + " bytes of constants have no stored data");
    return ir::ConstData::own(std::vector<uint8_t>(bytes, 0));
  }
  const uint64_t span_bytes = checked_mul(checked_add(last, 1, at), esize, at);
  if (span_bytes > storage.size())
    at.fail("the payload is out of range: it needs " + std::to_string(span_bytes) + " bytes, the entry has " +
            std::to_string(storage.size()));
  bool contiguous = true;
  for (int64_t i = static_cast<int64_t>(l.sizes.size()) - 1, expect = 1; i >= 0; --i) {
    if (l.sizes[i] != 1 && l.strides[i] != expect) contiguous = false;
    expect *= l.sizes[i];  // ≤ numel: cannot overflow
  }
  const uint8_t* base = storage.data() + l.storage_offset * esize;
  // Borrow only when aligned: later stages read the bytes as float/int arrays in place.
  const bool aligned = reinterpret_cast<uintptr_t>(base) % alignof(std::max_align_t) == 0;
  if (contiguous && aligned) return ir::ConstData::borrow(owner, {base, bytes}, file_mapped);
  if (contiguous) return ir::ConstData::own(std::vector<uint8_t>(base, base + bytes));
  // Strided (e.g. channels-last or a view of a tied weight): gather into row-major order. Every
  // index is at most `last`, checked above.
  std::vector<uint8_t> out(bytes);
  std::vector<int64_t> idx(l.sizes.size(), 0);
  for (uint64_t n = 0; n < numel; ++n) {
    uint64_t src = static_cast<uint64_t>(l.storage_offset);
    for (size_t d = 0; d < l.sizes.size(); ++d)
      src += static_cast<uint64_t>(idx[d]) * static_cast<uint64_t>(l.strides[d]);
    std::memcpy(out.data() + n * esize, storage.data() + src * esize, esize);
    for (int64_t d = static_cast<int64_t>(l.sizes.size()) - 1; d >= 0; --d) {
      if (++idx[d] < l.sizes[d]) break;
      idx[d] = 0;
    }
  }
  return ir::ConstData::own(std::move(out));
}

}  // namespace pt2tflite::archive
