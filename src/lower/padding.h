// PyTorch explicit padding vs TFLite's SAME/VALID.
#pragma once

#include <cstdint>

namespace pt2tflite::lower {

// Output size of a PyTorch conv/pool window along one dim.
int64_t torch_window_out(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode = false);
// True when TFLite SAME padding reads exactly the taps PyTorch's symmetric `pad` reads and gives
// the same output size (SAME puts an odd extra pixel at the end; PyTorch pads both sides).
bool torch_pad_is_same(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode = false);

}  // namespace pt2tflite::lower
