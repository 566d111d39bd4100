#include <gtest/gtest.h>

#include "passes/transpose/views.h"

namespace pt2tflite::passes {
namespace {

TEST(Views, ReshapeNeedsACommonRefinement) {
  ASSERT_TRUE(View::reshape({4, 6}, {2, 12}));
  EXPECT_EQ(View::reshape({4, 6}, {2, 12})->atoms, (std::vector<int64_t>{2, 2, 6}));
  EXPECT_FALSE(View::reshape({4, 6}, {3, 8}));  // 3 divides neither 4 nor a multiple of 4 below 24
  EXPECT_TRUE(View::reshape({1, 6, 1}, {6})->is_reshape());
}

TEST(Views, TransposeOfUnitDimsIsAReshape) {
  EXPECT_TRUE(View::transpose({1, 5, 1, 3}, {2, 1, 0, 3}).is_reshape());
  EXPECT_FALSE(View::transpose({2, 5, 3}, {1, 0, 2}).is_reshape());
}

TEST(Views, TransposesAcrossAReshapeCompose) {
  // [8,49,128] → [8,128,49] → [1024,7,7] → NHWC [7,7,1024]: one TRANSPOSE of [8,49,128].
  const View a = View::transpose({8, 49, 128}, {0, 2, 1});
  const auto b = View::reshape({8, 128, 49}, {1024, 7, 7});
  const View c = View::transpose({1024, 7, 7}, {1, 2, 0});
  const auto ab = compose(a, *b);
  ASSERT_TRUE(ab);
  const auto abc = compose(*ab, c);
  ASSERT_TRUE(abc);
  const View::Minimal m = abc->minimal();
  EXPECT_EQ(m.in, (std::vector<int64_t>{8, 49, 128}));
  EXPECT_EQ(m.perm, (std::vector<int>{1, 0, 2}));
  EXPECT_EQ(abc->out, (std::vector<int64_t>{7, 7, 1024}));
}

TEST(Views, InverseTransposesCancel) {
  const View a = View::transpose({2, 3, 4}, {2, 0, 1});
  const View b = View::transpose({4, 2, 3}, {1, 2, 0});
  EXPECT_TRUE(compose(a, b)->is_reshape());
  EXPECT_EQ(*compose(a, b), View::identity({2, 3, 4}));
}

TEST(Views, IncompatibleFactorizationsDoNotCompose) {
  // torchvision maxvit: window reverse then grid partition; 56 = 8·7 one way and 7·8 the other.
  EXPECT_FALSE(View::reshape({64, 8, 7, 8, 7}, {64, 7, 8, 7, 8}));
  // The same two transposes with a common refinement between them do compose.
  const View a = View::transpose({8, 8, 7, 7, 64}, {4, 0, 2, 1, 3});
  const View b = View::transpose({64, 8, 7, 8, 7}, {1, 2, 3, 4, 0});
  EXPECT_TRUE(compose(a, b));
}

TEST(Views, LastDimStaysForFullyConnected) {
  // A window partition keeps channels last, so it commutes with a linear layer (96 → 288).
  const View part = View::transpose({8, 7, 8, 7, 96}, {0, 2, 1, 3, 4});
  const auto wide = part.with_last_dim(288);
  ASSERT_TRUE(wide);
  EXPECT_EQ(wide->in, (std::vector<int64_t>{8, 7, 8, 7, 288}));
  EXPECT_EQ(wide->out, (std::vector<int64_t>{8, 8, 7, 7, 288}));
  // A head split moves parts of the last dim: it does not.
  const auto heads = View::reshape({49, 96}, {49, 3, 32});
  const View split = *compose(*heads, View::transpose({49, 3, 32}, {1, 0, 2}));
  EXPECT_FALSE(split.with_last_dim(32));
}

TEST(Views, MinimalMergesNeighboursUnlessTold) {
  const View v = View::transpose({2, 3, 4, 5}, {2, 3, 0, 1});
  EXPECT_EQ(v.minimal().in, (std::vector<int64_t>{6, 20}));
  EXPECT_EQ(v.minimal().perm, (std::vector<int>{1, 0}));
  EXPECT_EQ(v.minimal({1}).in, (std::vector<int64_t>{2, 3, 20}));
}

TEST(Views, DimPermutationOnlyForWholeDims) {
  EXPECT_EQ(View::transpose({1, 64, 7, 7}, {0, 2, 3, 1}).dim_permutation(), (std::vector<int>{0, 2, 3, 1}));
  EXPECT_EQ(View::transpose({1, 64, 7, 7}, {0, 3, 1, 2}).dim_permutation(), (std::vector<int>{0, 3, 1, 2}));
  // Moving only size-1 dims is a permutation too (and also a reshape).
  EXPECT_TRUE(View::transpose({1, 5, 1}, {2, 1, 0}).dim_permutation());
  EXPECT_FALSE(View::reshape({4, 6}, {2, 12})->dim_permutation());
  EXPECT_FALSE(compose(*View::reshape({6, 4}, {2, 3, 4}), View::transpose({2, 3, 4}, {1, 0, 2}))->dim_permutation());
}

}  // namespace
}  // namespace pt2tflite::passes
