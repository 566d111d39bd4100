// The reader's checked view of untrusted JSON (models/model.json and the payload configs).
//
// nlohmann-json's own accessors throw on a missing key or a wrong type, but convert a float to
// an integer with a plain cast (1e308 → undefined behaviour) and recurse once per nesting level
// when dumping. Everything the reader takes from the archive goes through these helpers instead:
// they bound nesting depth before parsing, refuse non-integral or out-of-range numbers, bound
// string lengths, and name the place in the file (a JSON path) in every error.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

namespace pt2tflite::archive {

using json = nlohmann::json;

// Limits on what an archive may contain. Real exports stay far below each: the deepest
// model.json nesting torch writes is about 12, a 7B-parameter LLM has ~10^4 nodes.
inline constexpr int kMaxJsonDepth = 128;
inline constexpr size_t kMaxJsonBytes = size_t{1} << 30;
inline constexpr size_t kMaxNameLength = 4096;  // tensor, node, argument and payload names
inline constexpr size_t kMaxNodes = 5'000'000;
inline constexpr int kMaxRank = 16;
// Every dim must fit TFLite's int32 shapes.
inline constexpr int64_t kMaxDim = INT32_MAX;
// Bytes of one tensor (2^40: far above any model, far below any 64-bit overflow).
inline constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 40;

// Parses JSON text whose nesting depth has been checked first (deeper than kMaxJsonDepth is a
// ConversionError, before nlohmann-json ever recurses). `what` names the entry in errors.
json parse_checked(std::span<const uint8_t> text, const std::string& what);

// `name` quoted for an error message, cut to a readable length (names come from the input and
// may be a megabyte long).
std::string quote(std::string_view name);

// Where a value sits in the input, for error messages: "models/model.json: graph.nodes[3].inputs".
class Where {
 public:
  explicit Where(std::string path) : path_(std::move(path)) {}
  Where key(std::string_view k) const { return Where(path_ + "." + std::string(k.substr(0, 64))); }
  Where index(size_t i) const { return Where(path_ + "[" + std::to_string(i) + "]"); }
  const std::string& str() const { return path_; }
  [[noreturn]] void fail(const std::string& why) const;

 private:
  std::string path_;
};

// Checked accessors: each throws ConversionError naming `at` when the JSON does not hold what
// the torch.export schema says it must.
const json& field(const json& obj, std::string_view key, const Where& at);
const json* optional_field(const json& obj, std::string_view key);
const json& object_at(const json& j, const Where& at);
const json& array_at(const json& j, const Where& at);
int64_t int_of(const json& j, const Where& at);   // integral JSON numbers only, within int64
double float_of(const json& j, const Where& at);  // numbers and "Infinity"/"-Infinity"/"NaN"
bool bool_of(const json& j, const Where& at);
std::string string_of(const json& j, const Where& at, size_t max_length = kMaxNameLength);
// A serialized union: an object with exactly one key. Returns that key and its value.
std::pair<std::string, const json&> union_of(const json& j, const Where& at);

}  // namespace pt2tflite::archive
