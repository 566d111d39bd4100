// Block writes into a tensor at a run-time position (KV-cache updates), shared by the index_put
// rule (index.cc), which tries them before a general scatter.
#pragma once

#include "lower/context.h"

namespace pt2tflite::lower {

// Lowers index_put(x, [None, ..., arange(T) + start], values) to one DYNAMIC_UPDATE_SLICE.
// Returns false, having emitted nothing, when the written rows are not provably consecutive.
bool lower_index_put_block_write(LowerCtx& ctx, const ir::Node& n);

// Why a write into model state (a graph input, e.g. a KV cache) that is not a block write is refused.
extern const char* const kStateWriteNotContiguous;

}  // namespace pt2tflite::lower
