// The argument schema of every op pt2tflite lowers (generated from torch's operator schemas into
// op_schemas.inc by tools/gen_op_schemas.py), and the check of an imported node against it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace pt2tflite::archive {

enum class ArgKind {
  kTensor,
  kOptTensor,
  kTensors,
  kOptTensors,
  kInt,
  kOptInt,
  kInts,
  kOptInts,
  kFloat,
  kOptFloat,
  kOptFloats,
  kBool,
  kOptBool,
  kScalar,
  kOptScalar,
  kString,
  kOptString,
  kDevice,
  kOptDevice,
};

struct ArgSpec {
  const char* name;
  ArgKind kind;
  bool required;
  ir::Attr default_value;  // when not required
};

struct OpSchema {
  std::string_view op;
  std::vector<ArgSpec> args;
  int outputs;  // number of outputs; -1 for a list of tensors
};

// The schema of `op`, or nullptr for an op pt2tflite does not lower (lowering reports those).
const OpSchema* op_schema(std::string_view op);

// True for an int argument that may be a run-time size (a SymRef) because the node's output shape
// restates it: the end of aten.slice.Tensor and of aten.arange (step 1, static start), whose output
// length along the dim is then the dynamic dim's symbol. The lowering reads the size from there.
bool int_arg_restated_by_output(std::string_view op, std::string_view arg);

// True for an op whose size-list argument only restates its output's shape, which the lowering
// reads instead, with its dynamic dims (view, _unsafe_view, reshape, expand). A symbolic size
// there is kept as its example size (or -1); anywhere else the reader refuses it.
bool sizes_restate_output(std::string_view op);

// True when some argument of `op` may restate a run-time size (either of the above), so a size
// rule run at the example sizes cannot judge the node.
bool args_may_restate_runtime_sizes(std::string_view op);

// Checks `node` (an ATen node straight from the archive) against its op's schema and fills in
// omitted arguments from the schema defaults. Returns an empty string when the node is well
// formed, else what is wrong (argument name and kind). `diagnosed` lists arguments the reader
// already reported as unrepresentable (skipped here). Symbolic integers (SymRef) where the
// schema takes an int are reported as unsupported, not malformed.
struct SchemaProblem {
  std::string message;
  bool unsupported = false;  // well formed, but something we cannot lower yet (diagnostic)
};
std::vector<SchemaProblem> check_against_schema(ir::Node& node, const std::vector<std::string>& diagnosed);

}  // namespace pt2tflite::archive
