#include "archive/zip_archive.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pt2tflite/convert.h"
#include "util/pages.h"

namespace pt2tflite::archive {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndOfCentralDirSig = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDirSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndOfCentralDirSize = 22;

[[noreturn]] void bad(const std::string& why) { throw ConversionError("not a readable .pt2 archive: " + why); }

// An entry name for an error message: names come from the file and may be 64 KiB long.
std::string shown(const std::string& name) {
  return name.size() <= 80 ? "'" + name + "'"
                           : "'" + name.substr(0, 80) + "...' (" + std::to_string(name.size()) + " chars)";
}

// Bounds-checked little-endian reads from the archive bytes.
struct Reader {
  std::span<const uint8_t> b;
  void need(uint64_t off, uint64_t n) const {
    if (off > b.size() || n > b.size() - off) bad("truncated zip structure at offset " + std::to_string(off));
  }
  uint16_t u16(uint64_t off) const {
    need(off, 2);
    return static_cast<uint16_t>(b[off] | (b[off + 1] << 8));
  }
  uint32_t u32(uint64_t off) const {
    need(off, 4);
    return static_cast<uint32_t>(b[off]) | (static_cast<uint32_t>(b[off + 1]) << 8) |
           (static_cast<uint32_t>(b[off + 2]) << 16) | (static_cast<uint32_t>(b[off + 3]) << 24);
  }
  uint64_t u64(uint64_t off) const {
    return static_cast<uint64_t>(u32(off)) | (static_cast<uint64_t>(u32(off + 4)) << 32);
  }
};

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr && size) munmap(addr, size);
  }
};

}  // namespace

ZipArchive ZipArchive::open_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConversionError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ConversionError("'" + path + "' is not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  if (mapping->size > 0) {
    mapping->addr = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping->addr == MAP_FAILED) {
      mapping->addr = nullptr;
      ::close(fd);
      throw ConversionError("cannot map '" + path + "': " + std::strerror(errno));
    }
  }
  ::close(fd);
  std::span<const uint8_t> bytes(static_cast<const uint8_t*>(mapping->addr), mapping->size);
  ZipArchive z = open_bytes(mapping, bytes);
  z.file_mapped_ = true;
  return z;
}

ZipArchive ZipArchive::open_bytes(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes) {
  ZipArchive z;
  z.owner_ = std::move(owner);
  z.bytes_ = bytes;
  z.parse();
  return z;
}

void ZipArchive::parse() {
  Reader r{bytes_};
  if (bytes_.size() < kEndOfCentralDirSize) bad("the file is too small to be a zip archive");
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  uint64_t eocd = UINT64_MAX;
  uint64_t lowest = bytes_.size() > kEndOfCentralDirSize + 0xFFFF ? bytes_.size() - kEndOfCentralDirSize - 0xFFFF : 0;
  for (uint64_t off = bytes_.size() - kEndOfCentralDirSize + 1; off-- > lowest;) {
    if (r.u32(off) == kEndOfCentralDirSig) {
      eocd = off;
      break;
    }
  }
  if (eocd == UINT64_MAX) bad("no zip end-of-central-directory record (not a zip file)");
  uint64_t count = r.u16(eocd + 10);
  uint64_t cd_offset = r.u32(eocd + 16);
  // PyTorch always writes ZIP64; the locator precedes the classic record.
  if (eocd >= 20 && r.u32(eocd - 20) == kZip64LocatorSig) {
    uint64_t z64 = r.u64(eocd - 20 + 8);
    if (r.u32(z64) != kZip64EndOfCentralDirSig) bad("corrupt ZIP64 end-of-central-directory record");
    count = r.u64(z64 + 32);
    cd_offset = r.u64(z64 + 48);
  }
  // Each central directory record takes at least 46 bytes: a count that cannot fit is corrupt
  // (and must not reach reserve(), which would throw std::length_error for 2^60 entries).
  if (cd_offset > bytes_.size() || count > (bytes_.size() - cd_offset) / kCentralHeaderSize)
    bad("the central directory claims " + std::to_string(count) + " entries, more than the file can hold");
  uint64_t off = cd_offset;
  entries_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    if (r.u32(off) != kCentralHeaderSig) bad("corrupt central directory entry " + std::to_string(i));
    uint16_t method = r.u16(off + 10);
    uint64_t csize = r.u32(off + 20);
    uint64_t usize = r.u32(off + 24);
    uint16_t name_len = r.u16(off + 28);
    uint16_t extra_len = r.u16(off + 30);
    uint16_t comment_len = r.u16(off + 32);
    uint64_t local = r.u32(off + 42);
    r.need(off + kCentralHeaderSize, name_len + extra_len);
    std::string name(reinterpret_cast<const char*>(bytes_.data() + off + kCentralHeaderSize), name_len);
    // ZIP64 extra field: 64-bit values appear only for the fields saturated at 0xFFFFFFFF.
    uint64_t ex = off + kCentralHeaderSize + name_len;
    for (uint64_t end = ex + extra_len; ex + 4 <= end;) {
      uint16_t id = r.u16(ex), len = r.u16(ex + 2);
      if (id == kZip64ExtraId) {
        uint64_t p = ex + 4;
        if (usize == 0xFFFFFFFF) usize = r.u64(p), p += 8;
        if (csize == 0xFFFFFFFF) csize = r.u64(p), p += 8;
        if (local == 0xFFFFFFFF) local = r.u64(p);
      }
      ex += 4 + len;
    }
    if (method != 0)
      bad("entry " + shown(name) + " is compressed (method " + std::to_string(method) +
          "); torch.export.save stores entries uncompressed");
    if (r.u32(local) != kLocalHeaderSig) bad("corrupt local header for " + shown(name));
    // The data offset must come from the local header: its extra field holds the alignment padding.
    uint64_t data = local + kLocalHeaderSize + r.u16(local + 26) + r.u16(local + 28);
    if (data > bytes_.size() || usize > bytes_.size() - data)
      bad("entry " + shown(name) + " is truncated: it needs bytes up to " + std::to_string(data + usize) +
          " but the archive has " + std::to_string(bytes_.size()));
    entries_.push_back(ZipEntry{std::move(name), data, usize});
    off += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  for (const ZipEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

void ZipArchive::drop_pages() const {
  if (file_mapped_) util::drop_mapped_pages(bytes_);
}

std::span<const uint8_t> ZipArchive::data(const ZipEntry& entry) const {
  return bytes_.subspan(entry.data_offset, entry.size);
}

}  // namespace pt2tflite::archive
