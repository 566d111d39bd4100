#include "lower/padding.h"

#include <algorithm>

namespace pt2tflite::lower {

int64_t torch_window_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  // PyTorch drops a last window that would start inside the right padding.
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

bool torch_pad_is_same(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t same_out = (in + s - 1) / s;
  int64_t total = std::max<int64_t>((same_out - 1) * s + d * (k - 1) + 1 - in, 0);
  return total / 2 == p && torch_window_out(in, k, s, p, d, ceil_mode) == same_out;
}

}  // namespace pt2tflite::lower
