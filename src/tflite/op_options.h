// Per-op details the writer needs: the builtin code, the options table, and the op version.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <string_view>

#include "ir/graph.h"
#include "schema_generated.h"

namespace pt2tflite::tflite_writer {

struct BuiltinOp {
  tflite::BuiltinOperator code;
  tflite::BuiltinOptions options_type;
  flatbuffers::Offset<void> options;
};

// Builds the builtin code and options of lowered node `n` (op "tfl.<NAME>"). Throws
// InternalError for an op missing from ir/tfl_ops.inc.
BuiltinOp build_builtin_op(flatbuffers::FlatBufferBuilder& fbb, const ir::Node& n);

// The lowest op version whose kernel semantics cover `n` (dtypes, options in use).
int op_version(const ir::Node& n, tflite::BuiltinOperator code);

tflite::TensorType tensor_type(ir::DType dtype);

}  // namespace pt2tflite::tflite_writer
