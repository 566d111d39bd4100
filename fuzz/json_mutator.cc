#include "json_mutator.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "../tests/cpp/zip_builder.h"
#include "archive/zip_archive.h"
#include "pt2tflite/convert.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace pt2tflite::fuzz {
namespace {

using json = nlohmann::json;

// Values that break arithmetic and type assumptions: overflow boundaries, zero, negatives,
// wrong kinds, and long strings.
json extreme(std::mt19937& rng) {
  static const int64_t kInts[] = {
      0, -1, 1, 2, 3, -2, INT32_MAX, INT32_MIN, int64_t{1} << 32, int64_t{1} << 62, INT64_MAX, INT64_MIN, 65, 7, 11};
  switch (rng() % 10) {
    case 0: return 1e308;
    case 1: return -0.5;
    case 2: return std::string(rng() % 2 ? 3 : 5000, 'x');
    case 3: return nullptr;
    case 4: return json::object();
    case 5: return json::array();
    case 6: return rng() % 2 == 0;
    default: return kInts[rng() % std::size(kInts)];
  }
}

// Every value in the document, with its parent, so that one can be picked uniformly.
struct Slot {
  json* parent;
  json* value;
};
void collect(json& j, json* parent, std::vector<Slot>& out) {
  out.push_back({parent, &j});
  if (j.is_structured())
    for (auto& child : j) collect(child, &j, out);
}

json* nodes_of(json& doc) {
  auto gm = doc.find("graph_module");
  if (gm == doc.end() || !gm->is_object()) return nullptr;
  auto g = gm->find("graph");
  if (g == gm->end() || !g->is_object()) return nullptr;
  auto n = g->find("nodes");
  return n != g->end() && n->is_array() && !n->empty() ? &*n : nullptr;
}

void mutate(json& doc, std::mt19937& rng) {
  std::vector<Slot> slots;
  collect(doc, nullptr, slots);
  json* nodes = nodes_of(doc);
  Slot s = slots[rng() % slots.size()];
  switch (rng() % 9) {
    case 0:
    case 1:
      if (s.parent) *s.value = extreme(rng);  // replace any value
      break;
    case 2:  // delete a key or an element
      if (s.parent && s.parent->is_object()) {
        for (auto it = s.parent->begin(); it != s.parent->end(); ++it)
          if (&*it == s.value) {
            s.parent->erase(it.key());
            break;
          }
      } else if (s.parent && s.parent->is_array() && !s.parent->empty()) {
        s.parent->erase(s.parent->begin() + rng() % s.parent->size());
      }
      break;
    case 3:  // rename a node argument
      if (nodes) {
        json& n = (*nodes)[rng() % nodes->size()];
        if (n.contains("inputs") && n["inputs"].is_array() && !n["inputs"].empty()) {
          static const char* kNames[] = {"input", "self", "weight", "stride", "dim", "zzz", "other", "bias"};
          n["inputs"][rng() % n["inputs"].size()]["name"] = kNames[rng() % std::size(kNames)];
        }
      }
      break;
    case 4:  // give a node another node's target
      if (nodes) (*nodes)[rng() % nodes->size()]["target"] = (*nodes)[rng() % nodes->size()].value("target", json());
      break;
    case 5:  // two nodes name the same output
      if (nodes) (*nodes)[rng() % nodes->size()]["outputs"] = (*nodes)[rng() % nodes->size()].value("outputs", json());
      break;
    case 6:  // swap two nodes (breaks topological order)
      if (nodes) std::swap((*nodes)[rng() % nodes->size()], (*nodes)[rng() % nodes->size()]);
      break;
    case 7: {  // copy one value over another (keeps realistic kinds in unrealistic places)
      Slot t = slots[rng() % slots.size()];
      if (t.parent && t.value != s.value && !s.value->is_structured()) *t.value = *s.value;
      break;
    }
    default:  // a numeric tweak nearby: off by one, negated, doubled
      if (s.value->is_number_integer()) {
        // Wrapping arithmetic on purpose (INT64_MAX + 1 is a useful input), done unsigned so
        // that the mutator itself has no signed overflow for UBSan to report.
        uint64_t v = static_cast<uint64_t>(s.value->get<int64_t>());
        uint64_t d[] = {v + 1, v - 1, 0 - v, v * 2, 0};
        *s.value = static_cast<int64_t>(d[rng() % std::size(d)]);
      } else if (s.parent) {
        *s.value = extreme(rng);
      }
  }
}

}  // namespace

std::optional<std::vector<std::pair<std::string, std::string>>> unzip(const uint8_t* data, size_t size) {
  try {
    auto z = archive::ZipArchive::open_bytes(nullptr, {data, size});
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : z.entries()) {
      auto b = z.data(e);
      out.emplace_back(e.name, std::string(reinterpret_cast<const char*>(b.data()), b.size()));
    }
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<uint8_t> zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  testing::ZipBuilder b;
  for (const auto& [name, body] : entries) b.add(name, body);
  return b.build();
}

bool mutate_json_text(std::string& text, uint32_t seed) {
  std::mt19937 rng(seed);
  // The seeds' JSON is shallow; a mutant may be deep, so cap depth before nlohmann recurses.
  int depth = 0, max_depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
    if (c == ']' || c == '}') --depth;
  }
  if (max_depth > 200) return false;
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return false;
  int rounds = 1 + static_cast<int>(rng() % 3);
  try {
    for (int i = 0; i < rounds; ++i) mutate(doc, rng);
  } catch (const json::exception&) {
    return false;  // an earlier round left a node that is not an object; mutate bytes instead
  }
  text = doc.dump();
  if (rng() % 64 == 0) {  // very deep nesting somewhere in the document
    size_t at = text.find('[');
    if (at != std::string::npos) {
      size_t d = rng() % 2 ? 3000 : 100000;
      text.insert(at + 1, std::string(d, '[') + std::string(d, ']') + ",");
    }
  }
  return true;
}

size_t mutate_archive(uint8_t* data, size_t size, size_t max_size, uint32_t seed) {
  auto entries = unzip(data, size);
  if (!entries || entries->empty()) return 0;
  std::mt19937 rng(seed);
  auto pick = [&](std::string_view suffix) -> std::string* {
    for (auto& [name, body] : *entries)
      if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        return &body;
    return nullptr;
  };
  std::string* target = nullptr;
  switch (rng() % 8) {
    case 0: target = pick("model_weights_config.json"); break;
    case 1: target = pick("model_constants_config.json"); break;
    default: target = pick("models/model.json");
  }
  if (rng() % 6 == 0) {  // byte-level edit of one entry (a weight payload, or JSON as text)
    auto& body = (*entries)[rng() % entries->size()].second;
    std::string copy = body;
    copy.resize(copy.size() * 2 + 16);
    size_t n = LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(copy.data()), body.size(), copy.size());
    copy.resize(n);
    body = copy;
  } else if (target) {
    if (!mutate_json_text(*target, static_cast<uint32_t>(rng()))) return 0;
  }
  std::vector<uint8_t> out = zip(*entries);
  if (out.size() > max_size) return 0;
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

}  // namespace pt2tflite::fuzz
