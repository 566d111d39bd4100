// The TFLite op table (ir/tfl_ops.inc): names round-trip, and the categories passes ask hold the
// facts they rely on. The fused-activation column is also checked against LiteRT itself by
// tests/python/test_fused_activation.py.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ir/graph.h"
#include "ir/tfl_op.h"

namespace pt2tflite::ir {
namespace {

TEST(TflOpTable, NamesRoundTrip) {
  std::set<std::string_view> names;
  for (TflOp op : all_tfl_ops()) {
    EXPECT_EQ(op_name(op).substr(0, 4), "tfl.");
    EXPECT_EQ(op_name(op).substr(4), builtin_name(op));
    EXPECT_EQ(tfl_op_named(op_name(op)), op);
    EXPECT_TRUE(names.insert(op_name(op)).second) << op_name(op) << " is listed twice";
  }
  EXPECT_EQ(tfl_op_named("tfl.SQUARED_DIFFERENCE"), std::nullopt);  // not emitted: not in the table
  EXPECT_EQ(tfl_op_named("ADD"), std::nullopt);
  EXPECT_EQ(tfl_op_named("aten.add.Tensor"), std::nullopt);
}

TEST(TflOpTable, NodesAskByType) {
  Node add;
  add.op = "tfl.ADD";
  EXPECT_TRUE(add.is(TflOp::ADD));
  EXPECT_FALSE(add.is(TflOp::SUB));
  EXPECT_TRUE(is_arithmetic_binary(add));
  EXPECT_TRUE(accepts_fused_activation(add));
  add.set_op(TflOp::CONCATENATION);
  EXPECT_EQ(add.op, "tfl.CONCATENATION");
  Node aten;
  aten.op = "aten.add.Tensor";
  EXPECT_EQ(tfl_op(aten), std::nullopt);
  EXPECT_FALSE(is_elementwise_binary(aten));
  EXPECT_FALSE(accepts_fused_activation(aten));
  EXPECT_EQ(int8_kind(aten), Int8Kind::NO);
}

// relu(cat(a, b)) once returned negative numbers: CONCATENATION's builtin kernel refuses a fused
// activation and XNNPACK ignores it. Nor do XNNPACK or older builtin kernels apply one on TRANSPOSE_CONV.
TEST(TflOpTable, FusedActivationOnlyWhereKernelsApplyIt) {
  std::set<TflOp> fuses;
  for (TflOp op : all_tfl_ops())
    if (accepts_fused_activation(op)) fuses.insert(op);
  EXPECT_EQ(fuses,
            (std::set<TflOp>{TflOp::ADD, TflOp::SUB, TflOp::MUL, TflOp::DIV, TflOp::CONV_2D, TflOp::DEPTHWISE_CONV_2D,
                             TflOp::FULLY_CONNECTED, TflOp::MAX_POOL_2D, TflOp::AVERAGE_POOL_2D}));
}

TEST(TflOpTable, CategoriesAreConsistent) {
  for (TflOp op : all_tfl_ops()) {
    // Layout-agnostic means per-element math.
    if (layout(op) == Layout::AGNOSTIC) {
      EXPECT_NE(elementwise(op), Elementwise::NO) << op_name(op);
    }
    // Per-channel quantization parameters have an axis: (DE)QUANTIZE are not layout-agnostic.
    if (op == TflOp::QUANTIZE || op == TflOp::DEQUANTIZE) {
      EXPECT_EQ(layout(op), Layout::NO);
    }
  }
  std::set<TflOp> arith;
  for (TflOp op : all_tfl_ops())
    if (elementwise(op) == Elementwise::ARITH) arith.insert(op);
  EXPECT_EQ(arith, (std::set<TflOp>{TflOp::ADD, TflOp::SUB, TflOp::MUL, TflOp::DIV, TflOp::MAXIMUM, TflOp::MINIMUM}));
  std::set<TflOp> weighted;
  for (TflOp op : all_tfl_ops())
    if (int8_kind(op) == Int8Kind::WEIGHTED) weighted.insert(op);
  EXPECT_EQ(weighted,
            (std::set<TflOp>{TflOp::CONV_2D, TflOp::DEPTHWISE_CONV_2D, TflOp::FULLY_CONNECTED, TflOp::TRANSPOSE_CONV}));
}

TEST(TflOpTable, ActivationAndPaddingAttributes) {
  Node conv;
  conv.op = "tfl.CONV_2D";
  EXPECT_EQ(fused_activation(conv), Activation::NONE);  // absent means NONE
  set_fused_activation(conv, Activation::RELU6);
  EXPECT_EQ(conv.get_string("fused_activation"), "RELU6");  // the IR text keeps the schema's name
  EXPECT_EQ(fused_activation(conv), Activation::RELU6);
  set_padding(conv, Padding::SAME);
  EXPECT_EQ(conv.get_string("padding"), "SAME");
  EXPECT_EQ(padding(conv), Padding::SAME);
  Node relu;
  relu.op = "tfl.RELU_N1_TO_1";
  EXPECT_EQ(as_fused_activation(relu), Activation::RELU_N1_TO_1);
  EXPECT_EQ(activation_op(Activation::RELU6), TflOp::RELU6);
  relu.op = "tfl.TANH";  // the schema has TANH as a fused activation, but XNNPACK refuses it
  EXPECT_EQ(as_fused_activation(relu), std::nullopt);
}

}  // namespace
}  // namespace pt2tflite::ir
