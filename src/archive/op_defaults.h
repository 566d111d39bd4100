// Schema defaults of ATen ops. torch.export's serializer omits every argument equal to its
// schema default, so the reader restores them from this table before lowering sees the node.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace pt2tflite::archive {

// The defaulted trailing arguments of `op` (e.g. "aten.add.Tensor" → {alpha: 1}); empty if none.
const std::vector<std::pair<std::string_view, ir::Attr>>& op_defaults(std::string_view op);

}  // namespace pt2tflite::archive
