// Conservative bounds on the values of integer tensors in an ATen graph.
//
// TFLite's integer DIV and FLOOR_DIV take int32 only, while PyTorch computes indices in int64.
// Narrowing an int64 tensor to int32 is exact only when its values fit, so a lowering that wants
// to narrow asks for a proof: a bound derived from where the values come from (the dim size
// behind topk/argmax/sort indices, arange's ends, constants) through the ops that keep or combine
// them. No proof means no narrowing: a refusal, never a silently wrapped value.
#pragma once

#include <cstdint>
#include <optional>

#include "ir/graph.h"

namespace pt2tflite::ir {

// The largest |x| over every value `v` can hold, when the graph proves one.
std::optional<int64_t> int_magnitude_bound(const Value* v);

// The same for a node argument: a tensor, an integer or boolean scalar.
std::optional<int64_t> int_magnitude_bound(const Attr& a);

// True when both are proven to lie within int32.
bool fits_int32(const Attr& a, const Attr& b);

}  // namespace pt2tflite::ir
