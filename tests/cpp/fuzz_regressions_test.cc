// Every input the fuzzers or the mutation campaign ever broke the converter with
// (tests/fuzz/regressions/) must now convert cleanly or be refused with a short ConversionError;
// the seed corpus (fuzz/seeds/, real exports) must convert, to a file the Verifier accepts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "pipeline/output_check.h"
#include "pt2tflite/convert.h"

namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<fs::path> files_in(const char* dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FuzzRegressions, EachInputConvertsOrIsRefusedCleanly) {
  auto files = files_in(PT2TFLITE_SOURCE_DIR "/tests/fuzz/regressions");
  ASSERT_FALSE(files.empty());
  for (const fs::path& p : files) {
    SCOPED_TRACE(p.filename().string());
    std::vector<uint8_t> bytes = read_file(p);
    try {
      pt2tflite::ConvertResult r = pt2tflite::convert_bytes(bytes);
      EXPECT_TRUE(pt2tflite::pipeline::flatbuffer_verifies(r.tflite));
    } catch (const pt2tflite::ConversionError& e) {
      EXPECT_LT(std::string(e.what()).size(), 1000u) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "escaped exception (CLI exit 1): " << e.what();
    }
  }
}

TEST(FuzzRegressions, SeedCorpusConverts) {
  for (const fs::path& p : files_in(PT2TFLITE_SOURCE_DIR "/fuzz/seeds")) {
    SCOPED_TRACE(p.filename().string());
    pt2tflite::ConvertResult r = pt2tflite::convert_bytes(read_file(p));
    EXPECT_TRUE(pt2tflite::pipeline::flatbuffer_verifies(r.tflite));
  }
}

}  // namespace
