// A read-only view of a ZIP file as written by PyTorch's PyTorchStreamWriter.
//
// Why our own reader instead of libzip/minizip: PT2 archives store every entry uncompressed at
// 64-byte alignment, so an entry is just a byte range of the file. Mapping the file and handing
// out spans gives zero-copy access to gigabytes of weights, which the general-purpose readers
// (that decompress into caller buffers) do not offer. Compressed entries are refused.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pt2tflite::archive {

struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  // from the start of the archive
  uint64_t size = 0;
};

class ZipArchive {
 public:
  // Memory-maps the file at `path`. Throws ConversionError if it cannot be read or is not a zip.
  static ZipArchive open_file(const std::string& path);
  // Views bytes held by `owner` (kept alive as long as any span from this archive is in use).
  static ZipArchive open_bytes(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry called `name`, or nullptr.
  const ZipEntry* find(std::string_view name) const;
  std::span<const uint8_t> data(const ZipEntry& entry) const;
  // Keeps the mapped bytes alive; share it with anything that holds spans into the archive.
  const std::shared_ptr<const void>& owner() const { return owner_; }
  // True when the bytes are a read-only mapping of a file (open_file), whose pages can be
  // dropped from memory and read back; false for caller-owned bytes (open_bytes).
  bool file_mapped() const { return file_mapped_; }
  // Gives back every resident page of a file mapping (peak RSS); a no-op for caller-owned bytes.
  // Safe at any time: spans stay valid and a later read faults the pages back in.
  void drop_pages() const;

 private:
  void parse();
  std::shared_ptr<const void> owner_;
  std::span<const uint8_t> bytes_;
  std::vector<ZipEntry> entries_;
  bool file_mapped_ = false;
};

}  // namespace pt2tflite::archive
