// Reads a torch.export archive (torch.export.save, torch >= 2.9) into an ATen-level IR module.
#pragma once

#include <vector>

#include "archive/zip_archive.h"
#include "ir/graph.h"
#include "pt2tflite/convert.h"

namespace pt2tflite::archive {

struct ImportResult {
  ir::Module module;  // ATen ops, constants borrowed from the archive mapping
  // Problems tied to single nodes (e.g. an argument kind we cannot represent). Lowering adds its
  // own; all are reported together.
  std::vector<Diagnostic> diagnostics;
};

// Throws ConversionError for problems with the archive as a whole (not a PT2 archive, pickled
// weights, unknown schema version, training IR, missing or truncated entries).
ImportResult read_pt2(const ZipArchive& zip);

// The user-facing origin of a node, parsed from its torch.export metadata.
ir::SourceInfo source_info_from_metadata(const std::string& nn_module_stack, const std::string& stack_trace);

}  // namespace pt2tflite::archive
