// TEST ONLY. A deliberately wrong lowering, switched on by the environment variable
// PT2TFLITE_TEST_PLANT_BUG=<FX node name>, so that the debugging tools (pt2tflite.debug.compare,
// find_culprits) can be tested against a bug whose location is known. Never set it otherwise.
#pragma once

#include "ir/graph.h"
#include "lower/context.h"

namespace pt2tflite::lower {

// The FX node name the switch names, or empty when the switch is off.
std::string planted_bug_node();

// Adds kPlantedBugOffset to the lowered output of `n` (a float node with one output): a TFLite ADD
// is appended and the FX node's name moves onto its output, so the wrong value carries the name.
void plant_bug(LowerCtx& ctx, const ir::Node& n);

inline constexpr double kPlantedBugOffset = 0.01;

}  // namespace pt2tflite::lower
