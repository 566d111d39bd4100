#include <gtest/gtest.h>

#include "ir/constants.h"
#include "ir/layout.h"
#include "lower/padding.h"

namespace pt2tflite::ir {
namespace {

TEST(Layout, TransposeBetweenLayouts) {
  const Perm nhwc = channels_last_perm(4);
  EXPECT_EQ(nhwc, (Perm{0, 2, 3, 1}));
  EXPECT_EQ(transpose_between({}, nhwc, 4), (Perm{0, 2, 3, 1}));  // NCHW → NHWC
  EXPECT_EQ(transpose_between(nhwc, {}, 4), (Perm{0, 3, 1, 2}));  // NHWC → NCHW
  EXPECT_EQ(inverse(nhwc), (Perm{0, 3, 1, 2}));
}

TEST(Layout, SameMemoryOrderIgnoresUnitDims) {
  auto s = [](std::vector<int64_t> v) { return ir::static_shape(v); };
  EXPECT_TRUE(same_memory_order(s({1, 64, 1, 1}), channels_last_perm(4)));  // flatten after global pool
  EXPECT_FALSE(same_memory_order(s({1, 64, 7, 7}), channels_last_perm(4)));
  EXPECT_TRUE(same_memory_order(s({2, 3, 4}), {}));
}

TEST(Layout, ReshapeKeepsLayoutWhenRunsAreTogether) {
  const Perm nhwc = channels_last_perm(4);
  // [N,C,H,W] stored NHWC, H and W merged: the result is stored [N, H·W, C].
  EXPECT_EQ(reshape_layout({1, 768, 14, 14}, nhwc, {1, 768, 196}), (Perm{0, 2, 1}));
  // Merging C with H and W needs PyTorch's order: C is not next to them in order.
  EXPECT_EQ(reshape_layout({1, 64, 7, 7}, nhwc, {1, 3136}), std::nullopt);
  // Size-1 dims do not matter: the flatten after a global pool is free.
  EXPECT_EQ(reshape_layout({1, 64, 1, 1}, nhwc, {1, 64}), Perm{});
  // Splitting a dim keeps the pieces where the dim was stored.
  EXPECT_EQ(reshape_layout({6, 4}, {1, 0}, {2, 3, 4}), (Perm{2, 0, 1}));
  // An unsqueeze puts the new dim after its logical predecessor.
  EXPECT_EQ(reshape_layout({5, 3}, {1, 0}, {5, 1, 3}), (Perm{2, 0, 1}));
  EXPECT_EQ(reshape_layout({2, 3, 4}, {}, {6, 4}), Perm{});
  EXPECT_EQ(reshape_layout({2, 3, 4}, {}, {4, 6}), Perm{});
}

TEST(ConstEval, PermuteBytes) {
  std::vector<float> m{0, 1, 2, 3, 4, 5};  // [2, 3]
  auto out = permute_bytes({reinterpret_cast<const uint8_t*>(m.data()), 24}, 4, {2, 3}, {1, 0});
  const float* f = reinterpret_cast<const float*>(out.data());
  EXPECT_EQ(std::vector<float>(f, f + 6), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

}  // namespace
}  // namespace pt2tflite::ir

namespace pt2tflite::lower {
namespace {

TEST(Padding, SameOnlyWhenTapsMatch) {
  EXPECT_TRUE(torch_pad_is_same(56, 3, 1, 1, 1));   // 3x3 stride 1 pad 1
  EXPECT_FALSE(torch_pad_is_same(56, 3, 2, 1, 1));  // stride 2 on an even input: SAME pads 0 before
  EXPECT_TRUE(torch_pad_is_same(57, 3, 2, 1, 1));   // odd input: both pad 1 before
  EXPECT_FALSE(torch_pad_is_same(224, 7, 2, 3, 1));
  EXPECT_EQ(torch_window_out(112, 3, 2, 1, 1), 56);
  EXPECT_EQ(torch_window_out(5, 2, 2, 0, 1, /*ceil_mode=*/true), 3);
}

}  // namespace
}  // namespace pt2tflite::lower
