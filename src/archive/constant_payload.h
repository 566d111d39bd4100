// Reads one weight or constant payload (raw bytes in the archive + its tensor_meta) into the
// value's ConstData, after checking the metadata against the payload in checked 64-bit
// arithmetic: sizes and strides of equal length, no negative size/stride/offset, the element
// span inside the entry. Misaligned payloads (an archive zipped again without PyTorch's 64-byte
// alignment) are copied, so no later read of a float is misaligned.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "archive/json_checks.h"
#include "ir/graph.h"

namespace pt2tflite::archive {

struct PayloadLayout {
  ir::DType dtype;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  int64_t storage_offset = 0;
};

// Parses and checks a payload's tensor_meta (static sizes only).
PayloadLayout payload_layout(const json& tensor_meta, const Where& at);

// The row-major bytes of `layout` over `storage`: borrowed when contiguous and aligned, else
// gathered into owned memory. `owner` keeps `storage` alive. Empty storage stands for zeros;
// `synthesized_bytes` adds up those (bounded, since nothing in the archive backs them).
ir::ConstData payload_data(const PayloadLayout& layout, std::span<const uint8_t> storage,
                           const std::shared_ptr<const void>& owner, bool file_mapped, uint64_t& synthesized_bytes,
                           const Where& at);

}  // namespace pt2tflite::archive
