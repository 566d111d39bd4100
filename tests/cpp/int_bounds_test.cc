// ir/int_bounds: the proofs that let an int64 division run exactly in int32, and their absence.
#include <gtest/gtest.h>

#include "ir/graph.h"
#include "ir/int_bounds.h"
#include "ir/parse.h"

namespace pt2tflite::ir {
namespace {

const Value* output(const Module& m) { return m.subgraphs.at(0)->outputs.at(0); }

std::optional<int64_t> bound_of(const std::string& text) {
  Module m = parse(text);
  return int_magnitude_bound(output(m));
}

TEST(IntBounds, TopkIndicesAreBelowTheirDimThroughArithmetic) {
  auto b = bound_of(R"(graph main(%x: f32[2,24000]) {
  %v, %i = aten.topk.default(self=%x, k=300, dim=1, largest=true, sorted=true) : f32[2,300] i64[2,300]
  %q = aten.div.Tensor_mode(self=%i, other=80, rounding_mode="floor") : i64[2,300]
  %m = aten.mul.Tensor(self=%q, other=80) : i64[2,300]
  %d = aten.sub.Tensor(self=%i, other=%m, alpha=1) : i64[2,300]
  return %d
}
)");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*b, 23999 + 23999 * 80);
}

TEST(IntBounds, ArgmaxWithoutADimIndexesTheFlattenedTensor) {
  auto b = bound_of(R"(graph main(%x: f32[3,5]) {
  %a = aten.argmax.default(self=%x, dim=None, keepdim=false) : i64[]
  return %a
}
)");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*b, 14);
}

TEST(IntBounds, AModelInputHasNoBound) {
  EXPECT_FALSE(bound_of(R"(graph main(%x: i64[4]) {
  %y = aten.add.Tensor(self=%x, other=1, alpha=1) : i64[4]
  return %y
}
)")
                   .has_value());
}

TEST(IntBounds, ProductsThatCouldOverflowAreNotBounded) {
  EXPECT_FALSE(bound_of(R"(graph main(%x: f32[8]) {
  %a = aten.argmax.default(self=%x, dim=0, keepdim=false) : i64[]
  %m = aten.mul.Tensor(self=%a, other=4611686018427387904) : i64[]
  return %m
}
)")
                   .has_value());
}

TEST(IntBounds, FitsInt32NeedsBothSides) {
  Module m = parse(R"(graph main(%x: f32[8], %n: i64[]) {
  %a = aten.argmax.default(self=%x, dim=0, keepdim=false) : i64[]
  return %a, %n
}
)");
  const Graph& g = *m.subgraphs.at(0);
  EXPECT_TRUE(fits_int32(Attr{g.outputs[0]}, Attr{int64_t{80}}));
  EXPECT_FALSE(fits_int32(Attr{g.outputs[0]}, Attr{g.outputs[1]}));
  EXPECT_FALSE(fits_int32(Attr{g.outputs[0]}, Attr{int64_t{1} << 40}));
}

}  // namespace
}  // namespace pt2tflite::ir
