#include "lower/padding.h"

#include <algorithm>

#include "ir/window_size.h"

namespace pt2tflite::lower {

int64_t torch_window_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  return ir::torch_window_count(in, k, s, p, d, ceil_mode);
}

bool torch_pad_is_same(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t same_out = (in + s - 1) / s;
  int64_t total = std::max<int64_t>((same_out - 1) * s + d * (k - 1) + 1 - in, 0);
  return total / 2 == p && torch_window_out(in, k, s, p, d, ceil_mode) == same_out;
}

}  // namespace pt2tflite::lower
