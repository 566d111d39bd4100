// The IR text form: dump(parse(text)) == text, clear errors for malformed text, and the
// FileCheck matcher the pass tests use.
#include <gtest/gtest.h>

#include <cstring>

#include "filecheck.h"
#include "ir/graph.h"
#include "ir/parse.h"
#include "pt2tflite/convert.h"

namespace pt2tflite::ir {
namespace {

using pt2tflite::testing::FileCheck;

void expect_round_trip(const std::string& text) {
  Module m = parse(text);
  EXPECT_EQ(dump(m), text);
}

// pt2tflite.convert(M().eval(), (torch.randn(1, 3, 4, 4),), dump_after=["lower"]) for a Conv2d(3, 4,
// 3, padding=1) → relu → cat([y, y*2]) → mean → slice → Linear(4, 2) model.
constexpr const char* kLoweredModel = R"(graph main(%x: f32[1,3,4,4]) {
  %convolution_const#1 = const i32[4] = [0, 2, 3, 1]
  %convolution_const#3 = const f32[4,3,3,3] = <108 elements>
  %p_c_bias = const f32[4] = [0.0904914, -0.18066488, 0.12850611, 0.015536398]
  %mul_const#7 = const f32[] = [2]
  %mean_const#10 = const i32[2] = [1, 2]
  %slice_1_const#13 = const i32[2] = [0, 0]
  %slice_1_const#14 = const i32[2] = [1, 4]
  %p_l_bias = const f32[2] = [0.3361051, -0.4476369]
  %p_l_weight = const f32[2,4] = [-0.12603056, 0.4100045, 0.26744318, -0.3419969, 0.19516408, 0.09437418, -0.06374484, 0.4427703]
  %convolution#0 = tfl.TRANSPOSE(%x, %convolution_const#1) : f32[1,4,4,3]
  %convolution#4 = tfl.CONV_2D(%convolution#0, %convolution_const#3, %p_c_bias, padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, fused_activation="NONE") : f32[1,4,4,4]
  %relu = tfl.RELU(%convolution#4) : f32[1,4,4,4]
  %mul = tfl.MUL(%relu, %mul_const#7, fused_activation="NONE") : f32[1,4,4,4]
  %cat = tfl.CONCATENATION(%relu, %mul, axis=3, fused_activation="NONE") : f32[1,4,4,8]
  %mean = tfl.MEAN(%cat, %mean_const#10, keep_dims=false) : f32[1,8]
  %slice_1#12 = tfl.SLICE(%mean, %slice_1_const#13, %slice_1_const#14) : f32[1,4]
  %linear = tfl.FULLY_CONNECTED(%slice_1#12, %p_l_weight, %p_l_bias, fused_activation="NONE", keep_num_dims=false) : f32[1,2]
  return %linear
}
signature serving_default -> main (x) -> (output_0)
)";

TEST(IrText, RoundTripsALoweredModel) { expect_round_trip(kLoweredModel); }

TEST(IrText, RoundTripsALoweredModelWithADynamicBatch) {
  // Linear(8, 4) → GELU → LayerNorm(4) exported with a dynamic batch, after fuse_activation.
  expect_round_trip(R"(graph main(%input: f32[Symbol('s31', positive=True, integer=True),8]) {
  %p_0_bias = const f32[4] = [0.25645074, -0.025776464, -0.20460424, -0.3101159]
  %addmm_const#1 = const f32[4,8] = <32 elements>
  %native_layer_norm_const#4 = const i32[1] = [1]
  %native_layer_norm_const#13 = const f32[] = [1e-05]
  %p_2_bias#20 = const f32[1,4] = [0, 0, 0, 0]
  %p_2_weight#21 = const f32[1,4] = [1, 1, 1, 1]
  %addmm = tfl.FULLY_CONNECTED(%input, %addmm_const#1, %p_0_bias, fused_activation="NONE", keep_num_dims=false) : f32[Symbol('s31', positive=True, integer=True),4]
  %gelu = tfl.GELU(%addmm, approximate=false) : f32[Symbol('s31', positive=True, integer=True),4]
  %native_layer_norm#5 = tfl.MEAN(%gelu, %native_layer_norm_const#4, keep_dims=true) : f32[Symbol('s31', positive=True, integer=True),1]
  %native_layer_norm#7 = tfl.SUB(%gelu, %native_layer_norm#5, fused_activation="NONE") : f32[Symbol('s31', positive=True, integer=True),4]
  %native_layer_norm#9 = tfl.MUL(%native_layer_norm#7, %native_layer_norm#7, fused_activation="NONE") : f32[Symbol('s31', positive=True, integer=True),4]
  %native_layer_norm#11 = tfl.MEAN(%native_layer_norm#9, %native_layer_norm_const#4, keep_dims=true) : f32[Symbol('s31', positive=True, integer=True),1]
  %native_layer_norm#14 = tfl.ADD(%native_layer_norm#11, %native_layer_norm_const#13, fused_activation="NONE") : f32[Symbol('s31', positive=True, integer=True),1]
  %native_layer_norm#16 = tfl.RSQRT(%native_layer_norm#14) : f32[Symbol('s31', positive=True, integer=True),1]
  %native_layer_norm#18 = tfl.MUL(%native_layer_norm#7, %native_layer_norm#16, fused_activation="NONE") : f32[Symbol('s31', positive=True, integer=True),4]
  %native_layer_norm#22 = tfl.MUL(%native_layer_norm#18, %p_2_weight#21, fused_activation="NONE") : f32[Symbol('s31', positive=True, integer=True),4]
  %getitem = tfl.ADD(%native_layer_norm#22, %p_2_bias#20, fused_activation="NONE") : f32[Symbol('s31', positive=True, integer=True),4]
  return %getitem
}
signature serving_default -> main (input) -> (output_0)
)");
}

TEST(IrText, RoundTripsAtenNodesWithEveryAttrKind) {
  expect_round_trip(R"(graph main(%x: f32[s0,4], %n: i64[]) {
  %y, _ = aten.demo.default(self=%x, none=None, flag=true, i=-3, f=1.0, g=1e-05, h=-0.1, s="a \"q\"\\", ints=[1,-2], floats=[0.5,2.0], bools=[true,false], t=%x, absent=_, ts=[%x,_,%n], n=$s0, empty=[]) : f32[s0,4]
  return %y
}
)");
}

TEST(IrText, RoundTripsEveryDtypeAndExactFloats) {
  expect_round_trip(R"(graph main() {
  %a = const f32[3] = [0.1, -3.4028235e+38, 1e-45]
  %b = const f64[2] = [0.1, 2.2250738585072014e-308]
  %c = const f16[2] = [0.33325195, -65504]
  %d = const bf16[2] = [1.5, -0.0078125]
  %e = const i8[2] = [-128, 127]
  %f = const u8[2] = [0, 255]
  %g = const i16[1] = [-32768]
  %h = const i32[2] = [-2147483648, 2147483647]
  %i = const i64[1] = [-9223372036854775808]
  %j = const bool[2] = [true, false]
  %k = const f32[2] = [nan, -inf]
  %l = const f32[0] = []
  return %a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %k, %l
}
)");
}

TEST(IrText, RoundTripsQuantizationStateInputsElidedConstantsAndSeveralGraphs) {
  expect_round_trip(R"(graph prefill(%tokens: i32[1,s0], %cache: f32[1,8,4] state) {
  %w = const i8[2,3]{q:axis=0,s=[0.5,0.25],zp=[0,0]} = [1, 2, 3, -4, -5, -6]
  %big = const f32[32] = <32 elements>
  %q = tfl.QUANTIZE(%cache) : i8[1,8,4]{q:s=0.0235,zp=-3}
  return %q, %cache
}
graph decode(%token: i32[1,1]) {
  return %token
}
signature prefill -> prefill (tokens, kv) -> (q, kv_out)
signature decode -> decode (token) -> (token_out)
)");
}

TEST(IrText, RoundTripsSymbolicDimExpressions) {
  // The archive's expr_str is free text: sympy reprs and expressions with spaces and commas.
  expect_round_trip(R"(graph main(%input: f32[Symbol('s31', positive=True, integer=True),8]) {
  %y = aten.view.default(self=%input, size=[-1]) : f32[8*s31 + 1]
  return %y
}
)");
}

TEST(IrText, RoundTripsInt4AndBlockwiseWeights) {
  expect_round_trip(R"(graph main(%x: f32[1,64]) {
  %w = const i4[3] = [-8, 7, -1]
  %wb = const i4[2,64]{q:blockwise=32,scales=[2,2]} = <128 elements>
  %y = tfl.FULLY_CONNECTED(%x, %wb, _, fused_activation="NONE", keep_num_dims=false) : f32[1,2]
  return %y, %w
}
)");
}

TEST(IrText, ElidedConstantsGetADeterministicFill) {
  Module m = parse("graph main() {\n  %c = const f32[20] = <20 elements>\n  return %c\n}\n");
  const Value& c = *m.main().outputs[0];
  ASSERT_TRUE(c.is_const());
  auto v = c.data->as<float>();
  ASSERT_EQ(v.size(), 20u);
  EXPECT_EQ(v[0], -0.75f);
  EXPECT_EQ(v[3], 0.0f);
  EXPECT_EQ(v[7], -0.75f);
}

TEST(IrText, ParsedNamesDoNotCollideWithNewOnes) {
  Module m = parse("graph main(%x: f32[1]) {\n  %relu#41 = tfl.RELU(%x) : f32[1]\n  return %relu#41\n}\n");
  EXPECT_EQ(m.main().unique_name("relu"), "relu#42");
}

TEST(IrText, ParsesTfliteOperandsAndAtenTensorArgs) {
  Module m = parse(R"(graph main(%x: f32[2]) {
  %a = aten.add.Tensor(self=%x, other=%x, alpha=1) : f32[2]
  %b = tfl.ADD(%a, %x, fused_activation="NONE") : f32[2]
  return %b
}
)");
  const auto& nodes = m.main().nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_TRUE(nodes[0]->inputs.empty());
  EXPECT_EQ(nodes[0]->get_tensor("self"), m.main().inputs[0]);
  EXPECT_EQ(nodes[0]->get_int("alpha"), 1);
  ASSERT_EQ(nodes[1]->inputs.size(), 2u);
  EXPECT_EQ(nodes[1]->inputs[0], nodes[0]->outputs[0]);
  EXPECT_EQ(nodes[1]->get_string("fused_activation"), "NONE");
  EXPECT_EQ(nodes[1]->outputs[0]->producer, nodes[1].get());
}

// The message of the ConversionError that parsing `text` throws.
std::string parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const ConversionError& e) {
    return e.what();
  }
  return "no error";
}

TEST(IrText, MalformedTextGivesLineColumnAndWhatWasExpected) {
  EXPECT_EQ(parse_error(""), "IR text line 1:1: expected 'graph', got end of text");
  EXPECT_EQ(parse_error("graph main(%x: f33[2]) {"), "IR text line 1:16: expected a dtype (f32, i64, ...), got 'f33'");
  EXPECT_EQ(parse_error("graph main(%x: f32[2]) {\n  %y = tfl.RELU(%z) : f32[2]\n  return %y\n}\n"),
            "IR text line 2:17: undefined value %z");
  EXPECT_EQ(parse_error("graph main(%x: f32[2]) {\n  %x = tfl.RELU(%x) : f32[2]\n  return %x\n}\n"),
            "IR text line 2:3: value %x is defined twice");
  EXPECT_EQ(parse_error("graph main() {\n  %c = const f32[3] = [1, 2]\n  return %c\n}\n"),
            "IR text line 2:3: constant %c lists 2 values for shape [3]");
  EXPECT_EQ(parse_error("graph main() {\n  %c = const i8[1] = [300]\n  return %c\n}\n"),
            "IR text line 2:23: value 300 does not fit i8");
  EXPECT_EQ(parse_error("graph main(%x: f32[2]) {\n  %y = tfl.ADD(a=1, %x) : f32[2]\n  return %y\n}\n"),
            "IR text line 2:21: expected 'name=value' (operands come before named arguments), got '%'");
  EXPECT_EQ(parse_error("graph main(%x: f32[2]) {\n  %y = tfl.RELU(%x) : f32[2] f32[2]\n"),
            "IR text line 2:30: expected no more output types than outputs, got 'f32'");
  EXPECT_EQ(parse_error("graph main(%x: f32[2]) {\n  %y = tfl.X(s=\"abc\n"), "IR text line 2:16: unterminated string");
  EXPECT_EQ(parse_error("graph main() {\n  return\n}\nsignature k -> other () -> ()\n"),
            "IR text line 4:16: no graph named other");
}

TEST(IrText, TruncatedTextNeverCrashes) {
  // Every prefix of a valid dump is either valid or a ConversionError.
  const std::string text = kLoweredModel;
  for (size_t n = 0; n < text.size(); n += 11) {
    try {
      parse(text.substr(0, n));
    } catch (const ConversionError&) {}
  }
}

TEST(FileCheck, MatchesInOrderNextNotAndCount) {
  const char* text = "a 1\nb 2\nc 3\nb 4\n";
  EXPECT_TRUE(FileCheck(text, "CHECK: a\nCHECK-NEXT: b 2\nCHECK-NOT: x\nCHECK: c"));
  EXPECT_TRUE(FileCheck(text, "CHECK-COUNT-2: b"));
  EXPECT_TRUE(FileCheck(text, "CHECK: b\nCHECK-SAME: 2\nCHECK-NEXT: c"));
  EXPECT_FALSE(FileCheck(text, "CHECK: b 2\nCHECK-SAME: 4"));         // on a later line
  EXPECT_FALSE(FileCheck(text, "CHECK: c\nCHECK: a"));                // order
  EXPECT_FALSE(FileCheck(text, "CHECK: a\nCHECK-NEXT: c"));           // not the next line
  EXPECT_FALSE(FileCheck(text, "CHECK: a\nCHECK-NOT: b\nCHECK: c"));  // b lies between
  EXPECT_FALSE(FileCheck(text, "CHECK: c\nCHECK-NOT: b"));            // b after the last match
  EXPECT_FALSE(FileCheck(text, "CHECK-COUNT-3: b"));
  EXPECT_FALSE(FileCheck(text, "no directives"));
  ::testing::AssertionResult r = FileCheck(text, "CHECK: a\nCHECK: zzz");
  EXPECT_NE(std::string(r.message()).find("check line 2 failed: CHECK: zzz"), std::string::npos) << r.message();
  EXPECT_NE(std::string(r.message()).find("scanning from here:\n>>>\na 1"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace pt2tflite::ir
