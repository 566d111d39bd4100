// Test helper: writes small ZIP archives in memory the way PyTorchStreamWriter does (stored
// entries, data aligned to 64 bytes through an "FB" extra field, optional ZIP64 records).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pt2tflite::testing {

class ZipBuilder {
 public:
  void add(std::string name, std::string data) { entries_.emplace_back(std::move(name), std::move(data)); }

  std::vector<uint8_t> build(bool zip64 = true) const {
    std::vector<uint8_t> out;
    struct Placed {
      uint64_t offset;
      const std::pair<std::string, std::string>* e;
    };
    std::vector<Placed> placed;
    for (const auto& e : entries_) {
      uint64_t off = out.size();
      // Pad so the data starts on a 64-byte boundary (extra header 4 bytes + filler).
      size_t base = off + 30 + e.first.size() + 4;
      size_t pad = (64 - base % 64) % 64;
      u32(out, 0x04034b50);
      u16(out, 20);
      u16(out, 0);
      u16(out, 0);  // stored
      u16(out, 0);
      u16(out, 0);
      u32(out, 0);  // crc (not checked by readers of stored test data)
      u32(out, static_cast<uint32_t>(e.second.size()));
      u32(out, static_cast<uint32_t>(e.second.size()));
      u16(out, static_cast<uint16_t>(e.first.size()));
      u16(out, static_cast<uint16_t>(4 + pad));
      out.insert(out.end(), e.first.begin(), e.first.end());
      u16(out, 0x4246);  // 'FB'
      u16(out, static_cast<uint16_t>(pad));
      out.insert(out.end(), pad, 'Z');
      out.insert(out.end(), e.second.begin(), e.second.end());
      placed.push_back({off, &e});
    }
    uint64_t cd = out.size();
    for (const auto& p : placed) {
      const auto& e = *p.e;
      u32(out, 0x02014b50);
      u16(out, 45);
      u16(out, 45);
      u16(out, 0);
      u16(out, 0);
      u16(out, 0);
      u16(out, 0);
      u32(out, 0);
      u32(out, zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(e.second.size()));
      u32(out, zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(e.second.size()));
      u16(out, static_cast<uint16_t>(e.first.size()));
      u16(out, zip64 ? 28 : 0);
      u16(out, 0);
      u16(out, 0);
      u16(out, 0);
      u32(out, 0);
      u32(out, zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(p.offset));
      out.insert(out.end(), e.first.begin(), e.first.end());
      if (zip64) {
        u16(out, 0x0001);
        u16(out, 24);
        u64(out, e.second.size());
        u64(out, e.second.size());
        u64(out, p.offset);
      }
    }
    uint64_t cd_size = out.size() - cd;
    if (zip64) {
      uint64_t z64 = out.size();
      u32(out, 0x06064b50);
      u64(out, 44);
      u16(out, 45);
      u16(out, 45);
      u32(out, 0);
      u32(out, 0);
      u64(out, placed.size());
      u64(out, placed.size());
      u64(out, cd_size);
      u64(out, cd);
      u32(out, 0x07064b50);
      u32(out, 0);
      u64(out, z64);
      u32(out, 1);
    }
    u32(out, 0x06054b50);
    u16(out, 0);
    u16(out, 0);
    u16(out, zip64 ? 0xFFFF : static_cast<uint16_t>(placed.size()));
    u16(out, zip64 ? 0xFFFF : static_cast<uint16_t>(placed.size()));
    u32(out, zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(cd_size));
    u32(out, zip64 ? 0xFFFFFFFF : static_cast<uint32_t>(cd));
    u16(out, 0);
    return out;
  }

 private:
  static void u16(std::vector<uint8_t>& o, uint16_t v) {
    o.push_back(v & 0xFF);
    o.push_back(v >> 8);
  }
  static void u32(std::vector<uint8_t>& o, uint32_t v) {
    for (int i = 0; i < 4; ++i) o.push_back((v >> (8 * i)) & 0xFF);
  }
  static void u64(std::vector<uint8_t>& o, uint64_t v) {
    for (int i = 0; i < 8; ++i) o.push_back((v >> (8 * i)) & 0xFF);
  }
  std::vector<std::pair<std::string, std::string>> entries_;
};

}  // namespace pt2tflite::testing
