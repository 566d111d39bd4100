// Structure-aware mutations for the libFuzzer harnesses: edits models/model.json as JSON
// (field values to numeric extremes, deleted or renamed keys, swapped op targets, duplicated
// outputs, reordered nodes, deep nesting) and repacks the archive the way torch.export.save does,
// so that most mutants get past the zip and JSON syntax checks and reach the validation boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pt2tflite::fuzz {

// The entries of a stored zip archive, in order (nullopt when `data` is not one).
std::optional<std::vector<std::pair<std::string, std::string>>> unzip(const uint8_t* data, size_t size);
// A stored zip with 64-byte aligned entries (ZIP64 records), as PyTorchStreamWriter writes it.
std::vector<uint8_t> zip(const std::vector<std::pair<std::string, std::string>>& entries);

// Mutates JSON text structurally; returns false when `text` is not JSON (the caller then falls
// back to libFuzzer's byte-level mutation).
bool mutate_json_text(std::string& text, uint32_t seed);

// One mutation of a .pt2 archive held in data[0, size): a JSON-level edit of model.json or of a
// payload config, or a byte-level edit of one entry. Returns the new size (<= max_size), or 0 when
// the input is not an archive we can repack.
size_t mutate_archive(uint8_t* data, size_t size, size_t max_size, uint32_t seed);

}  // namespace pt2tflite::fuzz
