// Tensor layouts as permutations. A lowered value's `layout` L says that physical dim i holds
// logical (PyTorch) dim L[i]; the empty layout is PyTorch's own order.
#pragma once

#include <optional>
#include <vector>

#include "ir/graph.h"

namespace pt2tflite::ir {

using Perm = std::vector<int>;

Perm identity_perm(int rank);
// NHWC for 4-D tensors (logical NCHW): {0, 2, 3, 1}.
Perm channels_last_perm(int rank);
Perm inverse(const Perm& p);
bool is_identity(const Perm& p);
// Empty for identity, so that equal layouts compare equal.
Perm normalized(const Perm& p, int rank);
// The physical shape of a tensor with logical shape `logical` stored in layout `layout`.
Shape physical_shape(const Shape& logical, const Perm& layout);
// TRANSPOSE permutation that turns layout `from` into layout `to`.
Perm transpose_between(const Perm& from, const Perm& to, int rank);
// True when storing `logical` in `layout` orders the bytes exactly as PyTorch's order does,
// i.e. the dims of size > 1 keep their relative order (then a RESHAPE needs no TRANSPOSE).
bool same_memory_order(const Shape& logical, const Perm& layout);
// The layout a reshape of `in` (stored in `layout`) to `out` can produce without moving bytes, or
// nullopt when there is none. A reshape merges and splits runs of consecutive logical dims; it can
// run on the stored tensor when every run's dims of size > 1 are adjacent and in order there, and
// the result keeps the runs in their stored order (e.g. NHWC [N,C,H,W] → [N,C,H·W] stays
// channels-last). Size-1 output dims go next to their logical predecessor.
std::optional<Perm> reshape_layout(const std::vector<int64_t>& in, const Perm& layout, const std::vector<int64_t>& out);

}  // namespace pt2tflite::ir
