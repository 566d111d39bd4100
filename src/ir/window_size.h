// PyTorch's output size of a conv/pooling window along one dim (aten pooling_output_shape), shared
// by the reader's shape check and the lowerings so that the two can never disagree.
#pragma once

#include <cstdint>

namespace pt2tflite::ir {

// The number of windows; < 1 when the input (padded) is too small for any window. Division rounds
// toward -inf as PyTorch's div_rtn does: with ceil_mode a window may be larger than the input
// (kernel 2 over 1 row gives 1 window), which truncating division would get wrong for span < -1.
inline int64_t torch_window_count(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  const int64_t q = num / s - ((num % s != 0 && (num < 0) != (s < 0)) ? 1 : 0);
  int64_t out = q + 1;
  // PyTorch drops a last window that would start inside the right padding.
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

}  // namespace pt2tflite::ir
