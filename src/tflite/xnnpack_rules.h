// Whether LiteRT's XNNPACK delegate will take an operator of a .tflite model, and why not, from
// the delegate's published rules (docs: formats.md §5.2, `VisitNode` in xnnpack_delegate.cc).
// A static check: it predicts the partitioning without running an interpreter.
#pragma once

#include <string>

namespace tflite {
struct Model;
struct SubGraph;
struct Operator;
}  // namespace tflite

namespace pt2tflite::tflite_writer {

// Empty when the delegate takes `op`; otherwise the first rule it breaks, in a few words.
std::string xnnpack_refusal(const tflite::Model& model, const tflite::SubGraph& graph, const tflite::Operator& op);

}  // namespace pt2tflite::tflite_writer
