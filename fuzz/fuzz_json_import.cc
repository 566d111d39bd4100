// libFuzzer harness: models/model.json through the reader's validation boundary and import
// (read_pt2), without lowering. The input is the JSON text; a .pt2 input (a seed) is unpacked so
// that its model.json and payloads are used as they are.
#include <cstdint>
#include <cstring>
#include <string>

#include "../tests/cpp/zip_builder.h"
#include "archive/pt2_reader.h"
#include "archive/zip_archive.h"
#include "fuzz_common.h"
#include "json_mutator.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

bool is_zip(const uint8_t* data, size_t size) { return size >= 4 && std::memcmp(data, "PK\x03\x04", 4) == 0; }

// The archive around a bare model.json: nothing else, so parameters fail to load cleanly.
std::vector<uint8_t> archive_of(const uint8_t* data, size_t size) {
  if (is_zip(data, size)) return {data, data + size};
  pt2tflite::testing::ZipBuilder b;
  b.add("archive/archive_format", "pt2");
  b.add("archive/models/model.json", std::string(reinterpret_cast<const char*>(data), size));
  return b.build();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes = archive_of(data, size);
  pt2tflite::fuzz::expect_clean([&] {
    auto z = pt2tflite::archive::ZipArchive::open_bytes(nullptr, bytes);
    pt2tflite::archive::read_pt2(z);
  });
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::string text;
  if (is_zip(data, size)) {
    auto entries = pt2tflite::fuzz::unzip(data, size);
    if (entries)
      for (auto& [name, body] : *entries)
        if (name.ends_with("models/model.json")) text = body;
  } else {
    text.assign(reinterpret_cast<const char*>(data), size);
  }
  if (seed % 4 == 0 || !pt2tflite::fuzz::mutate_json_text(text, seed)) return LLVMFuzzerMutate(data, size, max_size);
  if (text.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, text.data(), text.size());
  return text.size();
}
