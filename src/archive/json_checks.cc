#include "archive/json_checks.h"

#include <cmath>
#include <limits>

#include "pt2tflite/convert.h"

namespace pt2tflite::archive {

namespace {

// The deepest nesting of arrays and objects in `text` (brackets inside strings do not count).
// Stops counting once past `limit`.
int nesting_depth(std::span<const uint8_t> text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (uint8_t c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

const char* kind_name(const json& j) { return j.type_name(); }

}  // namespace

json parse_checked(std::span<const uint8_t> text, const std::string& what) {
  if (text.size() > kMaxJsonBytes)
    throw ConversionError(what + " is " + std::to_string(text.size()) + " bytes, more than the " +
                          std::to_string(kMaxJsonBytes) + " a model description may have");
  if (nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    throw ConversionError(what + " nests arrays/objects deeper than " + std::to_string(kMaxJsonDepth) +
                          " levels; torch.export never writes that (corrupt or hostile file)");
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ConversionError(what + " is not valid JSON");
  return j;
}

std::string quote(std::string_view name) {
  constexpr size_t kShown = 80;
  std::string out = "'";
  for (char c : name.substr(0, kShown)) out += (static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  out += name.size() > kShown ? "...' (" + std::to_string(name.size()) + " chars)" : "'";
  return out;
}

void Where::fail(const std::string& why) const { throw ConversionError(path_ + ": " + why); }

const json& object_at(const json& j, const Where& at) {
  if (!j.is_object()) at.fail(std::string("expected an object, found ") + kind_name(j));
  return j;
}

const json& array_at(const json& j, const Where& at) {
  if (!j.is_array()) at.fail(std::string("expected an array, found ") + kind_name(j));
  return j;
}

const json& field(const json& obj, std::string_view key, const Where& at) {
  object_at(obj, at);
  auto it = obj.find(key);
  if (it == obj.end()) at.fail("missing field " + quote(key));
  return *it;
}

const json* optional_field(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

int64_t int_of(const json& j, const Where& at) {
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) at.fail("integer out of int64 range");
    return static_cast<int64_t>(u);
  }
  if (j.is_number_integer()) return j.get<int64_t>();
  at.fail(std::string("expected an integer, found ") + (j.is_number_float() ? "a float" : kind_name(j)));
}

double float_of(const json& j, const Where& at) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    at.fail("bad float literal " + quote(s));
  }
  at.fail(std::string("expected a number, found ") + kind_name(j));
}

bool bool_of(const json& j, const Where& at) {
  if (!j.is_boolean()) at.fail(std::string("expected a boolean, found ") + kind_name(j));
  return j.get<bool>();
}

std::string string_of(const json& j, const Where& at, size_t max_length) {
  if (!j.is_string()) at.fail(std::string("expected a string, found ") + kind_name(j));
  const std::string& s = j.get_ref<const std::string&>();
  if (s.size() > max_length)
    at.fail("string of " + std::to_string(s.size()) + " chars, more than " + std::to_string(max_length) + ": " +
            quote(s));
  return s;
}

std::pair<std::string, const json&> union_of(const json& j, const Where& at) {
  if (!j.is_object() || j.size() != 1)
    at.fail(std::string("expected a one-key union object, found ") +
            (j.is_object() ? "an object with " + std::to_string(j.size()) + " keys" : kind_name(j)));
  return {j.begin().key().substr(0, 64), j.begin().value()};
}

}  // namespace pt2tflite::archive
