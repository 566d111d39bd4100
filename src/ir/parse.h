// Reads the text form of the IR that ir::dump prints, so pass tests can be written as IR in, IR
// out (tests/cpp/pass_ir_test.cc). dump(parse(text)) == text for any text dump printed, except
// that constants over kMaxPrintedElements (ir/text_format.h) get a fixed fill, symbolic dims a
// hint of 1, and nodes the name of their first output.
#pragma once

#include <string_view>

#include "ir/graph.h"

namespace pt2tflite::ir {

// Throws ConversionError "line L:C: expected ..., got ..." on text that is not a dump.
Module parse(std::string_view text);

}  // namespace pt2tflite::ir
