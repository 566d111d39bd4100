#include "archive/zip_archive.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "pt2tflite/convert.h"
#include "zip_builder.h"

namespace pt2tflite::archive {
namespace {

ZipArchive open(const std::vector<uint8_t>& bytes) { return ZipArchive::open_bytes(nullptr, bytes); }

std::string text(const ZipArchive& z, const std::string& name) {
  auto d = z.data(*z.find(name));
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

TEST(ZipArchive, ReadsZip64StoredEntriesAtAlignedOffsets) {
  testing::ZipBuilder b;
  b.add("m/a.txt", "hello");
  b.add("m/data/weights/weight_0", std::string(100, 'x'));
  auto bytes = b.build(/*zip64=*/true);
  ZipArchive z = open(bytes);
  ASSERT_EQ(z.entries().size(), 2u);
  EXPECT_EQ(text(z, "m/a.txt"), "hello");
  EXPECT_EQ(z.find("m/data/weights/weight_0")->size, 100u);
  for (const ZipEntry& e : z.entries()) EXPECT_EQ(e.data_offset % 64, 0u) << e.name;
}

TEST(ZipArchive, ReadsClassicZip) {
  testing::ZipBuilder b;
  b.add("x/y", "abc");
  auto bytes = b.build(/*zip64=*/false);
  EXPECT_EQ(text(open(bytes), "x/y"), "abc");
}

TEST(ZipArchive, RejectsNonZip) {
  std::vector<uint8_t> bytes(200, 'a');
  EXPECT_THROW(open(bytes), ConversionError);
  std::vector<uint8_t> tiny(3, 0);
  EXPECT_THROW(open(tiny), ConversionError);
}

TEST(ZipArchive, RejectsTruncatedArchive) {
  testing::ZipBuilder b;
  b.add("m/big", std::string(1000, 'x'));
  auto bytes = b.build();
  // Cut bytes out of the entry's data: the central directory now points past the end.
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + 200);
  cut.insert(cut.end(), bytes.begin() + 900, bytes.end());
  EXPECT_THROW(open(cut), ConversionError);
}

// Dropping the mapped pages (to lower peak RSS) must not change what the archive reads: the
// pages come back from the file. Caller-owned bytes must never be dropped (that would zero them).
TEST(ZipArchive, DroppedPagesReadBackFromTheFile) {
  testing::ZipBuilder b;
  std::string big(3 * 4096 + 123, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  b.add("m/data/weights/weight_0", big);
  auto bytes = b.build(/*zip64=*/true);
  std::string path = ::testing::TempDir() + "/drop_pages.zip";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_TRUE(f);
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    std::fclose(f);
  }
  ZipArchive z = ZipArchive::open_file(path);
  EXPECT_TRUE(z.file_mapped());
  EXPECT_EQ(text(z, "m/data/weights/weight_0"), big);
  z.drop_pages();
  EXPECT_EQ(text(z, "m/data/weights/weight_0"), big);
  std::remove(path.c_str());

  ZipArchive mem = open(bytes);
  EXPECT_FALSE(mem.file_mapped());
  mem.drop_pages();
  EXPECT_EQ(text(mem, "m/data/weights/weight_0"), big);
}

TEST(ZipArchive, MissingFileIsAClearError) {
  try {
    ZipArchive::open_file("/nonexistent/model.pt2");
    FAIL() << "expected ConversionError";
  } catch (const ConversionError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.pt2"), std::string::npos);
  }
}

}  // namespace
}  // namespace pt2tflite::archive
