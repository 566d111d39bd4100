// Pass tests as IR in → pass → FileCheck of the dumped IR (ir/parse.h, filecheck.h). Each test
// checks what the pass must change and, with CHECK-NOT, what must disappear or must not appear.
#include <gtest/gtest.h>

#include "filecheck.h"
#include "ir/graph.h"
#include "ir/parse.h"
#include "passes/passes.h"

namespace pt2tflite::passes {
namespace {

using pt2tflite::testing::FileCheck;

std::string run(void (*pass)(ir::Graph&), const std::string& text) {
  ir::Module m = ir::parse(text);
  pass(m.main());
  return ir::dump(m);
}

// --- fuse_activation

TEST(FuseActivation, FusesReluIntoConvAndRelu6IntoAdd) {
  std::string out = run(fuse_activation, R"(graph main(%x: f32[1,4,4,3], %z: f32[1,4,4,2]) {
  %w = const f32[2,1,1,3] = [1, 2, 3, 4, 5, 6]
  %b = const f32[2] = [0.5, -0.5]
  %conv = tfl.CONV_2D(%x, %w, %b, padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, fused_activation="NONE") : f32[1,4,4,2]
  %relu = tfl.RELU(%conv) : f32[1,4,4,2]
  %add = tfl.ADD(%relu, %z, fused_activation="NONE") : f32[1,4,4,2]
  %relu6 = tfl.RELU6(%add) : f32[1,4,4,2]
  return %relu6
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %relu = tfl.CONV_2D(%x, %w, %b, padding="SAME"
CHECK-NEXT: %relu6 = tfl.ADD(%relu, %z, fused_activation="RELU6") : f32[1,4,4,2]
CHECK-NOT: tfl.RELU
CHECK-NEXT: return %relu6
)")) << out;
  EXPECT_TRUE(FileCheck(out, "CHECK: fused_activation=\"RELU\") : f32[1,4,4,2]\nCHECK-NOT: fused_activation=\"NONE\""));
}

TEST(FuseActivation, NeverFusesIntoConcatenation) {
  // CONCATENATION's fused activation is not applied by every kernel: fusing there was a silent
  // wrong answer.
  std::string out = run(fuse_activation, R"(graph main(%x: f32[1,2], %y: f32[1,2]) {
  %cat = tfl.CONCATENATION(%x, %y, axis=1, fused_activation="NONE") : f32[1,4]
  %relu = tfl.RELU(%cat) : f32[1,4]
  return %relu
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %cat = tfl.CONCATENATION(%x, %y, axis=1, fused_activation="NONE")
CHECK-NEXT: %relu = tfl.RELU(%cat)
CHECK-NOT: fused_activation="RELU"
)")) << out;
}

TEST(FuseActivation, KeepsTheActivationWhenTheProducerHasAnotherReader) {
  std::string out = run(fuse_activation, R"(graph main(%x: f32[2], %y: f32[2]) {
  %add = tfl.ADD(%x, %y, fused_activation="NONE") : f32[2]
  %relu = tfl.RELU(%add) : f32[2]
  %mul = tfl.MUL(%add, %relu, fused_activation="NONE") : f32[2]
  return %mul
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: "RELU"
CHECK: %add = tfl.ADD(%x, %y, fused_activation="NONE")
CHECK-NEXT: %relu = tfl.RELU(%add)
)")) << out;
}

// --- drop_broadcasts

TEST(DropBroadcasts, DropsABroadcastTheAddDoesItself) {
  std::string out = run(drop_broadcasts, R"(graph main(%x: f32[1,4], %y: f32[3,4]) {
  %shape = const i32[2] = [3, 4]
  %bc = tfl.BROADCAST_TO(%x, %shape) : f32[3,4]
  %add = tfl.ADD(%y, %bc, fused_activation="NONE") : f32[3,4]
  return %add
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: BROADCAST_TO
CHECK: %add = tfl.ADD(%y, %x, fused_activation="NONE") : f32[3,4]
)")) << out;
}

TEST(DropBroadcasts, KeepsABroadcastWhoseOtherOperandDerivesFromIt) {
  // (b·2) + b with b = broadcast(x): dropping b would shrink both sides and lose the broadcast
  // dims (a silent wrong answer before).
  std::string out = run(drop_broadcasts, R"(graph main(%x: f32[1,4]) {
  %shape = const i32[2] = [3, 4]
  %two = const f32[] = [2]
  %bc = tfl.BROADCAST_TO(%x, %shape) : f32[3,4]
  %mul = tfl.MUL(%bc, %two, fused_activation="NONE") : f32[3,4]
  %add = tfl.ADD(%mul, %bc, fused_activation="NONE") : f32[3,4]
  return %add
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %bc = tfl.BROADCAST_TO(%x, %shape) : f32[3,4]
CHECK-NEXT: %mul = tfl.MUL(%bc, %two, fused_activation="NONE") : f32[3,4]
CHECK-NEXT: %add = tfl.ADD(%mul, %bc, fused_activation="NONE") : f32[3,4]
CHECK-NOT: f32[1,4]
)")) << out;
}

// --- simplify_transposes

TEST(SimplifyTransposes, CancelsAnInversePairOfTransposes) {
  std::string out = run(simplify_transposes, R"(graph main(%x: f32[1,2,3,4]) {
  %to_nhwc = const i32[4] = [0, 2, 3, 1]
  %to_nchw = const i32[4] = [0, 3, 1, 2]
  %t1 = tfl.TRANSPOSE(%x, %to_nhwc) : f32[1,3,4,2]
  %t2 = tfl.TRANSPOSE(%t1, %to_nchw) : f32[1,2,3,4]
  %relu = tfl.RELU(%t2) : f32[1,2,3,4]
  return %relu
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: TRANSPOSE
CHECK: %relu = tfl.RELU(%x) : f32[1,2,3,4]
CHECK-NOT: TRANSPOSE
)")) << out;
}

TEST(SimplifyTransposes, MergesTwoTransposesIntoOne) {
  std::string out = run(simplify_transposes, R"(graph main(%x: f32[2,3,4]) {
  %p = const i32[3] = [1, 2, 0]
  %t1 = tfl.TRANSPOSE(%x, %p) : f32[3,4,2]
  %t2 = tfl.TRANSPOSE(%t1, %p) : f32[4,2,3]
  %relu = tfl.RELU(%t2) : f32[4,2,3]
  return %relu
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: const i32[3] = [2, 0, 1]
CHECK: tfl.TRANSPOSE(%x,
CHECK-NOT: TRANSPOSE
CHECK: tfl.RELU(
)")) << out;
}

// --- fold_constants

TEST(FoldConstants, EvaluatesArithmeticOnConstants) {
  std::string out = run(fold_constants, R"(graph main(%x: f32[2]) {
  %a = const f32[2] = [1, 2]
  %b = const f32[2] = [0.5, 0.25]
  %s = tfl.ADD(%a, %b, fused_activation="NONE") : f32[2]
  %y = tfl.MUL(%x, %s, fused_activation="NONE") : f32[2]
  return %y
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: const f32[2] = [1.5, 2.25]
CHECK-NOT: tfl.ADD
CHECK: tfl.MUL(%x,
)")) << out;
}

TEST(FoldConstants, LeavesRunTimeOperandsAlone) {
  std::string out = run(fold_constants, R"(graph main(%x: f32[2]) {
  %a = const f32[2] = [1, 2]
  %s = tfl.ADD(%a, %x, fused_activation="NONE") : f32[2]
  return %s
}
)");
  EXPECT_TRUE(FileCheck(out, "CHECK: %s = tfl.ADD(%a, %x, fused_activation=\"NONE\")")) << out;
}

TEST(FoldConstants, FoldsTransposeOfAConstant) {
  std::string out = run(fold_constants, R"(graph main(%x: f32[3,2]) {
  %c = const f32[2,3] = [1, 2, 3, 4, 5, 6]
  %p = const i32[2] = [1, 0]
  %t = tfl.TRANSPOSE(%c, %p) : f32[3,2]
  %y = tfl.ADD(%x, %t, fused_activation="NONE") : f32[3,2]
  return %y
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: const f32[3,2] = [1, 4, 2, 5, 3, 6]
CHECK-NOT: TRANSPOSE
CHECK: tfl.ADD(%x,
)")) << out;
}

// --- matmul_to_fc

TEST(MatmulToFc, TurnsAMatmulByAConstantMatrixIntoFullyConnected) {
  std::string out = run(matmul_to_fc, R"(graph main(%x: f32[2,3,4]) {
  %c = const f32[4,2] = [1, 2, 3, 4, 5, 6, 7, 8]
  %y = tfl.BATCH_MATMUL(%x, %c, adj_x=false, adj_y=false) : f32[2,3,2]
  return %y
}
)");
  // The weights are the transposed matrix ([units, inputs]), no bias.
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: const f32[2,4] = [1, 3, 5, 7, 2, 4, 6, 8]
CHECK-NOT: BATCH_MATMUL
CHECK: %y = tfl.FULLY_CONNECTED(%x, %y_weights#0, _, fused_activation="NONE", keep_num_dims=true) : f32[2,3,2]
)")) << out;
}

TEST(MatmulToFc, KeepsAMatmulWithATransposedLeftOperand) {
  std::string out = run(matmul_to_fc, R"(graph main(%x: f32[2,4,3]) {
  %c = const f32[4,2] = [1, 2, 3, 4, 5, 6, 7, 8]
  %y = tfl.BATCH_MATMUL(%x, %c, adj_x=true, adj_y=false) : f32[2,3,2]
  return %y
}
)");
  EXPECT_TRUE(FileCheck(out, "CHECK-NOT: FULLY_CONNECTED\nCHECK: %y = tfl.BATCH_MATMUL(%x, %c, adj_x=true")) << out;
}

// --- fold_pad_into_same

constexpr const char* kPadConv = R"(graph main(%x: f32[1,4,4,1]) {
  %pads = const i32[4,2] = [0, 0, PH, 1, 1, 1, 0, 0]
  %w = const f32[1,3,3,1] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
  %b = const f32[1] = [0]
  %pad = tfl.PAD(%x, %pads) : f32[1,H,6,1]
  %conv = tfl.CONV_2D(%pad, %w, %b, padding="VALID", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, fused_activation="NONE") : f32[1,O,4,1]
  return %conv
}
)";

std::string pad_conv(int top) {
  std::string s = kPadConv;
  s.replace(s.find("PH"), 2, std::to_string(top));
  s.replace(s.find("H,6"), 1, std::to_string(4 + top + 1));
  s.replace(s.find("O,4"), 1, std::to_string(4 + top + 1 - 2));
  return s;
}

TEST(FoldPadIntoSame, TurnsZeroPadPlusValidIntoSame) {
  std::string out = run(fold_pad_into_same, pad_conv(1));
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: tfl.PAD
CHECK: %conv = tfl.CONV_2D(%x, %w, %b, padding="SAME"
CHECK-NOT: VALID
)")) << out;
}

TEST(FoldPadIntoSame, KeepsAPadThatIsNotSamePadding) {
  std::string out = run(fold_pad_into_same, pad_conv(2));
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %pad = tfl.PAD(%x, %pads) : f32[1,7,6,1]
CHECK-NEXT: %conv = tfl.CONV_2D(%pad, %w, %b, padding="VALID"
CHECK-NOT: SAME
)")) << out;
}

// --- drop_fc_flatten

TEST(DropFcFlatten, DropsTheFlattenInFrontOfAFullyConnected) {
  std::string out = run(drop_fc_flatten, R"(graph main(%x: f32[2,2,3]) {
  %shape = const i32[2] = [4, 3]
  %w = const f32[1,3] = [1, 2, 3]
  %flat = tfl.RESHAPE(%x, %shape) : f32[4,3]
  %fc = tfl.FULLY_CONNECTED(%flat, %w, _, fused_activation="NONE", keep_num_dims=false) : f32[4,1]
  return %fc
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: RESHAPE
CHECK: %fc = tfl.FULLY_CONNECTED(%x, %w, _, fused_activation="NONE", keep_num_dims=false) : f32[4,1]
)")) << out;
}

TEST(DropFcFlatten, KeepsTheReshapeWhenTheFcKeepsDims) {
  std::string out = run(drop_fc_flatten, R"(graph main(%x: f32[2,2,3]) {
  %shape = const i32[2] = [4, 3]
  %w = const f32[1,3] = [1, 2, 3]
  %flat = tfl.RESHAPE(%x, %shape) : f32[4,3]
  %fc = tfl.FULLY_CONNECTED(%flat, %w, _, fused_activation="NONE", keep_num_dims=true) : f32[4,1]
  return %fc
}
)");
  EXPECT_TRUE(FileCheck(out, "CHECK: tfl.RESHAPE(%x, %shape)\nCHECK-NEXT: tfl.FULLY_CONNECTED(%flat,")) << out;
}

// --- fold_channel_affine

TEST(FoldChannelAffine, FoldsAPerChannelAddIntoTheConvBias) {
  std::string out = run(fold_channel_affine, R"(graph main(%x: f32[1,4,4,3]) {
  %w = const f32[2,1,1,3] = [1, 2, 3, 4, 5, 6]
  %b = const f32[2] = [0.5, -0.5]
  %c = const f32[2] = [1, 2]
  %conv = tfl.CONV_2D(%x, %w, %b, padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, fused_activation="NONE") : f32[1,4,4,2]
  %add = tfl.ADD(%conv, %c, fused_activation="NONE") : f32[1,4,4,2]
  return %add
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: const f32[2] = [1.5, 1.5]
CHECK-NOT: tfl.ADD
CHECK: tfl.CONV_2D(%x, %w,
CHECK-NOT: tfl.ADD
)")) << out;
}

TEST(FoldChannelAffine, KeepsAnAddWhoseConvHasAnotherReader) {
  std::string out = run(fold_channel_affine, R"(graph main(%x: f32[1,4,4,3]) {
  %w = const f32[2,1,1,3] = [1, 2, 3, 4, 5, 6]
  %b = const f32[2] = [0.5, -0.5]
  %c = const f32[2] = [1, 2]
  %conv = tfl.CONV_2D(%x, %w, %b, padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, fused_activation="NONE") : f32[1,4,4,2]
  %add = tfl.ADD(%conv, %c, fused_activation="NONE") : f32[1,4,4,2]
  %mul = tfl.MUL(%add, %conv, fused_activation="NONE") : f32[1,4,4,2]
  return %mul
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %conv = tfl.CONV_2D(%x, %w, %b,
CHECK-NEXT: %add = tfl.ADD(%conv, %c,
)")) << out;
}

// --- float16_weights

TEST(Float16Weights, StoresConvWeightsAsFloat16BehindADequantize) {
  std::string out = run(float16_weights, R"(graph main(%x: f32[1,4,4,3]) {
  %w = const f32[2,1,1,3] = [1, 0.1, 3, 4, 5, 6]
  %b = const f32[2] = [0.5, -0.5]
  %conv = tfl.CONV_2D(%x, %w, %b, padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, fused_activation="NONE") : f32[1,4,4,2]
  return %conv
}
)");
  // 0.1 rounds to the nearest half.
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: const f32[2,1,1,3]
CHECK: const f16[2,1,1,3] = [1, 0.099975586, 3, 4, 5, 6]
CHECK: tfl.DEQUANTIZE(%w#
CHECK-NEXT: %conv = tfl.CONV_2D(%x, %w#
CHECK-SAME: , %b,
)")) << out;
}

// --- reassociate_broadcasts

TEST(ReassociateBroadcasts, CombinesTheSmallScalesBeforeTheFullSizeMul) {
  // (x·v)·c → x·(v·c): v and c meet first, at their own small shape.
  std::string out = run(reassociate_broadcasts, R"(graph main(%x: f32[2,3,4], %v: f32[1,1,4]) {
  %c = const f32[4] = [1, 2, 3, 4]
  %xv = tfl.MUL(%x, %v, fused_activation="NONE") : f32[2,3,4]
  %y = tfl.MUL(%xv, %c, fused_activation="NONE") : f32[2,3,4]
  return %y
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: %xv
CHECK: = tfl.MUL(%v, %c, fused_activation="NONE") : f32[1,1,4]
CHECK-NEXT: %y = tfl.MUL(%x, %y_small#
CHECK-SAME: : f32[2,3,4]
CHECK-NOT: %xv
)")) << out;
}

TEST(ReassociateBroadcasts, TurnsAScaledResidualIntoOneMul) {
  // (x·s) + x → x·(s + 1), s a constant.
  std::string out = run(reassociate_broadcasts, R"(graph main(%x: f32[2,3]) {
  %s = const f32[3] = [0.5, 1, -1]
  %xs = tfl.MUL(%x, %s, fused_activation="NONE") : f32[2,3]
  %y = tfl.ADD(%xs, %x, fused_activation="NONE") : f32[2,3]
  return %y
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: const f32[3] = [1.5, 2, 0]
CHECK-NOT: tfl.ADD
CHECK: %y = tfl.MUL(%x, %y_scale#
CHECK-NOT: tfl.ADD
)")) << out;
}

TEST(ReassociateBroadcasts, LeavesAMulWhoseInnerResultHasAnotherReader) {
  // (x·v) is also a graph output: regrouping would compute it twice.
  std::string out = run(reassociate_broadcasts, R"(graph main(%x: f32[2,3,4], %v: f32[1,1,4]) {
  %c = const f32[4] = [1, 2, 3, 4]
  %xv = tfl.MUL(%x, %v, fused_activation="NONE") : f32[2,3,4]
  %y = tfl.MUL(%xv, %c, fused_activation="NONE") : f32[2,3,4]
  return %y, %xv
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %xv = tfl.MUL(%x, %v,
CHECK-NEXT: %y = tfl.MUL(%xv, %c,
CHECK-NOT: f32[1,1,4]
)")) << out;
}

// --- fold_batchnorm (ATen level: tensors are named args)

constexpr const char* kConvBatchNorm = R"(graph main(%x: f32[1,1,3,3]) {
  %w = const f32[2,1,1,1] = [4, 6]
  %b = const f32[2] = [0.5, -1]
  %gamma = const f32[2] = [2, 1]
  %beta = const f32[2] = [0.25, 1]
  %mean = const f32[2] = [0.5, 1]
  %var = const f32[2] = [3, 3]
  %conv = aten.convolution.default(input=%x, weight=%w, bias=%b, stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1) : f32[1,2,3,3]
  %bn, %bn_mean, %bn_rstd = aten._native_batch_norm_legit_no_training.default(input=%conv, weight=%gamma, bias=%beta, running_mean=%mean, running_var=%var, momentum=0.1, eps=1.0) : f32[1,2,3,3] f32[0] f32[0]
  %relu = aten.relu.default(self=%bn) : f32[1,2,3,3]
  return %relu
}
)";

TEST(FoldBatchnorm, ScalesTheConvWeightsAndBias) {
  // scale = gamma / sqrt(var + eps) = [1, 0.5]; bias = (b - mean) * scale + beta.
  std::string out = run(fold_batchnorm, kConvBatchNorm);
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %w_bn = const f32[2,1,1,1] = [4, 3]
CHECK-NEXT: %bn_bias = const f32[2] = [0.25, 0]
CHECK: %conv = aten.convolution.default(input=%x, weight=%w_bn, bias=%bn_bias,
CHECK-NOT: batch_norm
CHECK: %relu = aten.relu.default(self=%conv)
)")) << out;
}

TEST(FoldBatchnorm, KeepsABatchNormAfterAConvWithAnotherReader) {
  std::string text = kConvBatchNorm;
  text.replace(text.find("(self=%bn)"), 10, "(self=%conv)");
  text.replace(text.find("return %relu"), 12, "return %relu, %bn");
  std::string out = run(fold_batchnorm, text);
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: _bn
CHECK: weight=%w, bias=%b,
CHECK-NEXT: aten._native_batch_norm_legit_no_training.default(input=%conv,
)")) << out;
}

// --- evaluate_constants (ATen level)

TEST(EvaluateConstants, StoresTheResultOfANodeOnConstants) {
  std::string out = run(evaluate_constants, R"(graph main(%x: f32[2]) {
  %a = const f32[2] = [1, 2]
  %b = const f32[2] = [0.5, 0.25]
  %s = aten.add.Tensor(self=%a, other=%b, alpha=2) : f32[2]
  %y = aten.mul.Tensor(self=%x, other=%s) : f32[2]
  return %y
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: const f32[2] = [2, 2.5]
CHECK-NOT: aten.add
CHECK: aten.mul.Tensor(self=%x, other=%
)")) << out;
}

TEST(EvaluateConstants, LeavesNodesOnRunTimeValues) {
  std::string out = run(evaluate_constants, R"(graph main(%x: f32[2]) {
  %b = const f32[2] = [0.5, 0.25]
  %s = aten.add.Tensor(self=%x, other=%b, alpha=2) : f32[2]
  return %s
}
)");
  EXPECT_TRUE(FileCheck(out, "CHECK: %s = aten.add.Tensor(self=%x, other=%b, alpha=2) : f32[2]")) << out;
}

// --- quantized_io

TEST(QuantizedIo, MakesTheBoundaryInt8) {
  std::string out = run(quantized_io, R"(graph main(%x: f32[1,4]) {
  %xq = tfl.QUANTIZE(%x) : i8[1,4]{q:s=0.5,zp=-1}
  %r = tfl.RELU(%xq) : i8[1,4]{q:s=0.5,zp=-1}
  %y = tfl.DEQUANTIZE(%r) : f32[1,4]
  return %y
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: graph main(%x: i8[1,4]{q:s=0.5,zp=-1}) {
CHECK-NOT: QUANTIZE
CHECK-NEXT: %y = tfl.RELU(%x) : i8[1,4]{q:s=0.5,zp=-1}
CHECK-NEXT: return %y
)")) << out;
}

TEST(QuantizedIo, KeepsAFloatInputThatIsNotOnlyQuantized) {
  std::string out = run(quantized_io, R"(graph main(%x: f32[1,4]) {
  %xq = tfl.QUANTIZE(%x) : i8[1,4]{q:s=0.5,zp=-1}
  %y = tfl.DEQUANTIZE(%xq) : f32[1,4]
  %z = tfl.ADD(%y, %x, fused_activation="NONE") : f32[1,4]
  return %z
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: graph main(%x: f32[1,4]) {
CHECK-NEXT: tfl.QUANTIZE(%x)
CHECK-NEXT: tfl.DEQUANTIZE(%xq)
)")) << out;
}

// --- fold_qdq

TEST(FoldQdq, RunsADequantizeAddQuantizeIslandInInt8) {
  std::string out = run(fold_qdq, R"(graph main(%a: i8[1,4]{q:s=0.5,zp=0}, %b: i8[1,4]{q:s=0.25,zp=1}) {
  %da = tfl.DEQUANTIZE(%a) : f32[1,4]
  %db = tfl.DEQUANTIZE(%b) : f32[1,4]
  %s = tfl.ADD(%da, %db, fused_activation="NONE") : f32[1,4]
  %q = tfl.QUANTIZE(%s) : i8[1,4]{q:s=0.75,zp=-2}
  return %q
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: QUANTIZE
CHECK: tfl.ADD(%a, %b, fused_activation="NONE") : i8[1,4]{q:s=0.75,zp=-2}
CHECK-NOT: f32
)")) << out;
}

TEST(FoldQdq, LeavesAnIslandWhoseFloatResultHasAnotherReader) {
  std::string out = run(fold_qdq, R"(graph main(%a: i8[1,4]{q:s=0.5,zp=0}, %b: i8[1,4]{q:s=0.25,zp=1}) {
  %da = tfl.DEQUANTIZE(%a) : f32[1,4]
  %db = tfl.DEQUANTIZE(%b) : f32[1,4]
  %s = tfl.ADD(%da, %db, fused_activation="NONE") : f32[1,4]
  %q = tfl.QUANTIZE(%s) : i8[1,4]{q:s=0.75,zp=-2}
  return %q, %s
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %s = tfl.ADD(%da, %db, fused_activation="NONE") : f32[1,4]
CHECK-NEXT: %q = tfl.QUANTIZE(%s)
)")) << out;
}

// --- weight_quant

constexpr const char* kFc = R"(graph main(%x: f32[1,K]) {
  %w = const f32[32,K] = <N elements>
  %y = tfl.FULLY_CONNECTED(%x, %w, _, fused_activation="NONE", keep_num_dims=false) : f32[1,32]
  return %y
}
)";

std::string fc_with_inputs(int k) {
  std::string s = kFc;
  for (size_t at; (at = s.find('K')) != std::string::npos;) s.replace(at, 1, std::to_string(k));
  s.replace(s.find('N'), 1, std::to_string(32 * k));
  return s;
}

void weight_quant_int8(ir::Graph& g) { weight_quant(g, {WeightQuantMode::kInt8}); }

TEST(WeightQuantPass, StoresFullyConnectedWeightsAsPerRowInt8) {
  // The elided weights read back as 0.25 * (i % 7 - 3): every row's largest magnitude is 0.75,
  // so every row's scale is 0.75 / 127.
  std::string out = run(weight_quant_int8, fc_with_inputs(32));
  EXPECT_TRUE(FileCheck(out, R"(
CHECK-NOT: const f32[32,32]
CHECK: const i8[32,32]{q:axis=0,s=[0.0059055
CHECK-COUNT-31: ,0.0059055
CHECK: tfl.FULLY_CONNECTED(%x, %w
CHECK-NOT: DEQUANTIZE
)")) << out;
}

TEST(WeightQuantPass, LeavesSmallWeightsInFloat) {
  std::string out = run(weight_quant_int8, fc_with_inputs(8));
  EXPECT_TRUE(FileCheck(out, "CHECK-NOT: i8\nCHECK: %y = tfl.FULLY_CONNECTED(%x, %w, _,")) << out;
}

// --- guard_inplace_aliases

TEST(GuardInplaceAliases, CopiesAReshapeOfASharedTensorBeforeAnInPlaceMul) {
  // %x has two readers; LiteRT would let the MUL write over the buffer %q aliases, which is %x's.
  std::string out = run(guard_inplace_aliases, R"(graph main(%a: f32[4,8], %b: f32[4,8]) {
  %x = tfl.ADD(%a, %b, fused_activation="NONE") : f32[4,8]
  %shape = const i32[3] = [4, 2, 4]
  %q = tfl.RESHAPE(%x, %shape) : f32[4,2,4]
  %half = const f32[] = [0.5]
  %m = tfl.MUL(%q, %half, fused_activation="NONE") : f32[4,2,4]
  %r = tfl.RELU(%x) : f32[4,8]
  return %m, %r
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %q = tfl.RESHAPE(%x, %shape)
CHECK-NEXT: = tfl.TRANSPOSE(%q, %
CHECK-NEXT: %m = tfl.MUL(%q#
)")) << out;
}

TEST(GuardInplaceAliases, LeavesAReshapeOfATensorWithOneReader) {
  std::string text = R"(graph main(%a: f32[4,8], %b: f32[4,8]) {
  %x = tfl.ADD(%a, %b, fused_activation="NONE") : f32[4,8]
  %shape = const i32[3] = [4, 2, 4]
  %q = tfl.RESHAPE(%x, %shape) : f32[4,2,4]
  %half = const f32[] = [0.5]
  %m = tfl.MUL(%q, %half, fused_activation="NONE") : f32[4,2,4]
  return %m
}
)";
  std::string out = run(guard_inplace_aliases, text);
  EXPECT_TRUE(FileCheck(out, "CHECK-NOT: tfl.TRANSPOSE")) << out;
}

TEST(GuardInplaceAliases, CopiesA0dViewThroughAVectorOfOne) {
  // LiteRT's TRANSPOSE of a 0-d tensor writes garbage: the copy reshapes to [1] and back.
  std::string out = run(guard_inplace_aliases, R"(graph main(%a: f32[1], %b: f32[1]) {
  %x = tfl.ADD(%a, %b, fused_activation="NONE") : f32[1]
  %shape = const i32[0] = []
  %q = tfl.RESHAPE(%x, %shape) : f32[]
  %one = const f32[] = [1]
  %m = tfl.ADD(%q, %one, fused_activation="NONE") : f32[]
  %r = tfl.RELU(%x) : f32[1]
  return %m, %r
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %q = tfl.RESHAPE(%x, %shape) : f32[]
CHECK-NEXT: = tfl.RESHAPE(%q, %
CHECK-SAME: : f32[1]
CHECK-NEXT: = tfl.TRANSPOSE(%
CHECK-SAME: : f32[1]
CHECK-NEXT: %q#
CHECK-SAME: = tfl.RESHAPE(%
CHECK-SAME: : f32[]
CHECK-NEXT: %m = tfl.ADD(%q#
)")) << out;
}

// --- view_0d_as_1d

TEST(View0dAs1d, RunsASoftmaxOfA0dTensorOnAVectorOfOne) {
  std::string out = run(view_0d_as_1d, R"(graph main(%x: f32[]) {
  %s = aten._softmax.default(self=%x, dim=0, half_to_float=false) : f32[]
  return %s
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: %x_as_1d#
CHECK-SAME: = aten.unsqueeze.default(self=%x, dim=0) : f32[1]
CHECK-NEXT: = aten._softmax.default(self=%x_as_1d#
CHECK-SAME: dim=0, half_to_float=false) : f32[1]
CHECK-NEXT: %s = aten.squeeze.dims(self=%
CHECK-SAME: dim=[0]) : f32[]
CHECK-NEXT: return %s
)")) << out;
}

TEST(View0dAs1d, KeepsTheReducedDimOfAReductionAndViewsBothResultsBack) {
  std::string out = run(view_0d_as_1d, R"(graph main(%x: f32[]) {
  %v, %i = aten.max.dim(self=%x, dim=-1, keepdim=false) : f32[] i64[]
  return %v, %i
}
)");
  EXPECT_TRUE(FileCheck(out, R"(
CHECK: = aten.max.dim(self=%x_as_1d#
CHECK-SAME: dim=-1, keepdim=true) : f32[1] i64[1]
CHECK-NEXT: %v = aten.squeeze.dims(
CHECK-NEXT: %i = aten.squeeze.dims(
)")) << out;
}

TEST(View0dAs1d, LeavesTensorsOfRankOneAndUp) {
  const std::string text = R"(graph main(%x: f32[3]) {
  %s = aten._softmax.default(self=%x, dim=0, half_to_float=false) : f32[3]
  return %s
}
)";
  std::string out = run(view_0d_as_1d, text);
  EXPECT_TRUE(FileCheck(out, "CHECK-NOT: aten.unsqueeze\nCHECK-NOT: aten.squeeze")) << out;
}

}  // namespace
}  // namespace pt2tflite::passes
