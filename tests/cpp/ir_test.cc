#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ir/constants.h"
#include "ir/dtype.h"
#include "ir/graph.h"

namespace pt2tflite::ir {
namespace {

TEST(Graph, DumpIsStableText) {
  Graph g;
  Value* x = g.add_value("x", DType::kFloat32, static_shape(std::vector<int64_t>{1, 4}));
  x->shape[0] = Dim{1, "s0"};
  Value* y = g.add_value("y", DType::kFloat32, static_shape(std::vector<int64_t>{1, 4}));
  g.inputs = {x};
  g.outputs = {y};
  Node* n = g.add_node("aten.clamp.default", "clamp", {}, {y});
  n->set("self", x);
  n->set("min", 0.0);
  n->set("max", std::monostate{});
  EXPECT_EQ(dump(g),
            "graph main(%x: f32[s0,4]) {\n"
            "  %y = aten.clamp.default(self=%x, min=0.0, max=None) : f32[1,4]\n"
            "  return %y\n"
            "}\n");
}

TEST(Graph, RemoveDeadKeepsLiveChainAndAllOutputsOfLiveOps) {
  Graph g;
  auto shape = static_shape(std::vector<int64_t>{2});
  Value* x = g.add_value("x", DType::kFloat32, shape);
  Value* a = g.add_value("a", DType::kFloat32, shape);
  Value* a2 = g.add_value("a2", DType::kFloat32, shape);  // unused second output of a live op
  Value* dead = g.add_value("dead", DType::kFloat32, shape);
  g.inputs = {x};
  g.add_node("tfl.SPLIT", "split", {x}, {a, a2});
  g.add_node("tfl.RELU", "unused", {x}, {dead});
  g.outputs = {a};
  g.remove_dead();
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0]->name, "split");
  EXPECT_EQ(g.use_count(a), 1);
  EXPECT_EQ(g.values().size(), 3u);
}

TEST(Graph, ReplaceUsesRewritesOperandsAndOutputs) {
  Graph g;
  auto shape = static_shape(std::vector<int64_t>{2});
  Value* x = g.add_value("x", DType::kFloat32, shape);
  Value* y = g.add_value("y", DType::kFloat32, shape);
  Value* z = g.add_value("z", DType::kFloat32, shape);
  Node* n = g.add_node("tfl.RELU", "r", {y}, {z});
  g.outputs = {y, z};
  g.replace_uses(y, x);
  EXPECT_EQ(n->inputs[0], x);
  EXPECT_EQ(g.outputs[0], x);
  EXPECT_EQ(g.use_count(y), 0);
}

TEST(Graph, ConstantsMustMatchTheirShape) {
  Graph g;
  EXPECT_ANY_THROW(g.add_const("c", DType::kFloat32, static_shape(std::vector<int64_t>{3}),
                               ConstData::own(std::vector<uint8_t>(8))));
}

// torch.promote_types / torch.result_type facts (checked against PyTorch 2.14).
TEST(DTypePromotion, FollowsPyTorch) {
  EXPECT_EQ(promote_types(DType::kUInt8, DType::kInt8), DType::kInt16);
  EXPECT_EQ(promote_types(DType::kUInt8, DType::kInt32), DType::kInt32);
  EXPECT_EQ(promote_types(DType::kBool, DType::kUInt8), DType::kUInt8);
  EXPECT_EQ(promote_types(DType::kFloat16, DType::kBFloat16), DType::kFloat32);
  EXPECT_EQ(promote_types(DType::kInt64, DType::kFloat16), DType::kFloat16);
  using R = PromotionRank;
  auto rt = [](std::initializer_list<PromotionOperand> ops) { return result_type(std::vector(ops)); };
  EXPECT_EQ(rt({{DType::kUInt8, R::kDimmed}, {DType::kInt64, R::kWrappedNumber}}), DType::kUInt8);
  EXPECT_EQ(rt({{DType::kUInt8, R::kDimmed}, {DType::kInt64, R::kZeroDim}}), DType::kUInt8);
  EXPECT_EQ(rt({{DType::kUInt8, R::kDimmed}, {DType::kFloat64, R::kWrappedNumber}}), DType::kFloat32);
  EXPECT_EQ(rt({{DType::kUInt8, R::kDimmed}, {DType::kFloat64, R::kZeroDim}}), DType::kFloat64);
  EXPECT_EQ(rt({{DType::kFloat16, R::kDimmed}, {DType::kFloat64, R::kWrappedNumber}}), DType::kFloat16);
  EXPECT_EQ(rt({{DType::kBool, R::kDimmed}, {DType::kInt64, R::kWrappedNumber}}), DType::kInt64);
  EXPECT_EQ(rt({{DType::kInt32, R::kZeroDim}, {DType::kInt64, R::kWrappedNumber}}), DType::kInt32);
  EXPECT_EQ(rt({{DType::kInt64, R::kWrappedNumber}, {DType::kFloat64, R::kWrappedNumber}}), DType::kFloat32);
}

TEST(DTypePromotion, PythonIntsWrapIntoIntegerDtypes) {
  EXPECT_EQ(wrap_int(-2, DType::kUInt8), 254);
  EXPECT_EQ(wrap_int(300, DType::kUInt8), 44);
  EXPECT_EQ(wrap_int(200, DType::kInt8), -56);
  EXPECT_EQ(wrap_int(int64_t{1} << 33, DType::kInt32), 0);
  EXPECT_EQ(wrap_int(-2, DType::kInt64), -2);
  EXPECT_EQ(wrap_int(-2, DType::kBool), 1);
  EXPECT_EQ(wrap_int(-2, DType::kFloat32), -2);
}

TEST(Constants, Int4ValuesReadBackSignExtendedLowNibbleFirst) {
  Graph g;
  // Bytes 0x8F, 0x07: elements 15→-1, 8→-8, 7, (padding 0); three values.
  Value* w = g.add_const("w", DType::kInt4, static_shape(std::vector<int64_t>{3}),
                         ConstData::own(std::vector<uint8_t>{0x8F, 0x07}));
  EXPECT_EQ(to_int_vector(*w), (std::vector<int64_t>{-1, -8, 7}));
  w->quant = QuantParams{{0.5f}, {0}, 0, nullptr};
  EXPECT_EQ(to_float_vector(*w), (std::vector<float>{-0.5f, -4.0f, 3.5f}));
}

TEST(Constants, EveryDtypeEncodesFromFloatsAndInts) {
  // bfloat16 once bounced between from_float_vector and from_int_vector until the stack overflowed.
  const std::vector<float> f = {1.0f, -2.5f, 3.0078125f, 65504.0f};
  Graph g;
  Value* b = g.add_const("b", DType::kBFloat16, static_shape(std::vector<int64_t>{4}),
                         ConstData::own(from_float_vector(f, DType::kBFloat16)));
  EXPECT_EQ(to_float_vector(*b), (std::vector<float>{1.0f, -2.5f, 3.0f, 65536.0f}));  // nearest, ties to even
  for (DType t : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64, DType::kInt8, DType::kUInt8,
                  DType::kInt16, DType::kInt32, DType::kInt64, DType::kBool}) {
    EXPECT_EQ(from_float_vector(f, t).size(), 4 * dtype_size(t)) << dtype_name(t);
    EXPECT_EQ(from_int_vector(std::vector<int64_t>{1, 2, 3, 4}, t).size(), 4 * dtype_size(t)) << dtype_name(t);
  }
}

TEST(Constants, FloatsBeyondTheIntegerRangeSaturateAndNanGivesZero) {
  const std::vector<float> f = {std::nanf(""), 1e30f, -1e30f, -2.9f};
  Graph g;
  Value* i = g.add_const("i", DType::kInt64, static_shape(std::vector<int64_t>{4}),
                         ConstData::own(from_float_vector(f, DType::kInt64)));
  EXPECT_EQ(to_int_vector(*i),
            (std::vector<int64_t>{0, std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(), -2}));
}

}  // namespace
}  // namespace pt2tflite::ir
