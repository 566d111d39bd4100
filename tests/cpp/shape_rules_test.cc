// The boundary's size rules (archive/shape_rules.h) on single ATen nodes: each rule accepts the shape
// PyTorch computes and refuses a declared shape that differs, for every output of the node.
#include "archive/shape_rules.h"

#include <gtest/gtest.h>

#include "ir/graph.h"

namespace pt2tflite::archive {
namespace {

using Sizes = std::vector<int64_t>;

// One node `op` over float tensors; `args` name tensors made from `tensors` or plain attributes.
struct OneNode {
  ir::Graph g;
  ir::Node* node = nullptr;

  OneNode(const std::string& op, const std::vector<std::pair<std::string, Sizes>>& tensors,
          std::vector<std::pair<std::string, ir::Attr>> attrs, const std::vector<Sizes>& outputs,
          ir::DType index_dtype = ir::DType::kInt64) {
    std::vector<ir::Value*> outs;
    for (size_t i = 0; i < outputs.size(); ++i) {
      const bool indices = i == 1 && (op.find("sort") != std::string::npos || op.find("topk") != std::string::npos);
      outs.push_back(g.add_value("out" + std::to_string(i), indices ? ir::DType::kInt64 : ir::DType::kFloat32,
                                 ir::static_shape(outputs[i])));
    }
    node = g.add_node(op, "n", {}, outs);
    for (const auto& [name, sizes] : tensors) {
      const bool integer = name == "index" || name == "indices";
      node->args.emplace_back(
          name, g.add_value("t_" + name, integer ? index_dtype : ir::DType::kFloat32, ir::static_shape(sizes)));
    }
    for (auto& [name, a] : attrs) node->args.emplace_back(name, std::move(a));
  }
  std::string check() const { return check_node_shapes(*node); }
};

TEST(ShapeRules, TopkChecksBothOutputs) {
  auto topk = [](Sizes values, Sizes indices) {
    return OneNode("aten.topk.default", {{"self", {4, 10}}},
                   {{"k", int64_t{3}}, {"dim", int64_t{-1}}, {"largest", true}, {"sorted", true}}, {values, indices})
        .check();
  };
  EXPECT_EQ(topk({4, 3}, {4, 3}), "");
  EXPECT_NE(topk({4, 3}, {4, 10}).find("output 1"), std::string::npos) << topk({4, 3}, {4, 10});
  EXPECT_NE(topk({4, 10}, {4, 3}), "");
}

TEST(ShapeRules, SplitWithSizesChecksEveryPiece) {
  auto split = [](Sizes sizes, std::vector<Sizes> outs) {
    return OneNode("aten.split_with_sizes.default", {{"self", {2, 7}}}, {{"split_sizes", sizes}, {"dim", int64_t{1}}},
                   outs)
        .check();
  };
  EXPECT_EQ(split({3, 4}, {{2, 3}, {2, 4}}), "");
  EXPECT_NE(split({3, 4}, {{2, 3}, {2, 5}}).find("output 1"), std::string::npos);
  EXPECT_NE(split({3, 3}, {{2, 3}, {2, 3}}).find("do not add up"), std::string::npos);
}

TEST(ShapeRules, GatherAndIndexSelect) {
  EXPECT_EQ(
      OneNode("aten.gather.default", {{"self", {3, 5}}, {"index", {3, 2}}}, {{"dim", int64_t{1}}}, {{3, 2}}).check(),
      "");
  EXPECT_NE(
      OneNode("aten.gather.default", {{"self", {3, 5}}, {"index", {3, 2}}}, {{"dim", int64_t{1}}}, {{3, 5}}).check(),
      "");
  EXPECT_NE(OneNode("aten.gather.default", {{"self", {3, 5}}, {"index", {6}}}, {{"dim", int64_t{1}}}, {{6}}).check(),
            "");  // index of another rank
  EXPECT_EQ(
      OneNode("aten.index_select.default", {{"self", {3, 5}}, {"index", {4}}}, {{"dim", int64_t{0}}}, {{4, 5}}).check(),
      "");
  EXPECT_NE(
      OneNode("aten.index_select.default", {{"self", {3, 5}}, {"index", {4}}}, {{"dim", int64_t{0}}}, {{3, 5}}).check(),
      "");
}

TEST(ShapeRules, DataMovementOps) {
  EXPECT_EQ(OneNode("aten.repeat.default", {{"self", {2, 3}}}, {{"repeats", Sizes{4, 1, 2}}}, {{4, 2, 6}}).check(), "");
  EXPECT_NE(OneNode("aten.repeat.default", {{"self", {2, 3}}}, {{"repeats", Sizes{4, 1, 2}}}, {{4, 2, 3}}).check(), "");
  EXPECT_EQ(
      OneNode("aten.pixel_shuffle.default", {{"self", {1, 8, 3, 3}}}, {{"upscale_factor", int64_t{2}}}, {{1, 2, 6, 6}})
          .check(),
      "");
  EXPECT_NE(
      OneNode("aten.pixel_shuffle.default", {{"self", {1, 8, 3, 3}}}, {{"upscale_factor", int64_t{2}}}, {{1, 8, 6, 6}})
          .check(),
      "");
  EXPECT_EQ(OneNode("aten.unfold.default", {{"self", {2, 10}}},
                    {{"dimension", int64_t{1}}, {"size", int64_t{4}}, {"step", int64_t{3}}}, {{2, 3, 4}})
                .check(),
            "");
  EXPECT_NE(OneNode("aten.unfold.default", {{"self", {2, 10}}},
                    {{"dimension", int64_t{1}}, {"size", int64_t{11}}, {"step", int64_t{3}}}, {{2, 0, 11}})
                .check(),
            "");
  EXPECT_EQ(OneNode("aten.embedding.default", {{"weight", {10, 4}}, {"indices", {2, 3}}}, {}, {{2, 3, 4}}).check(), "");
  EXPECT_NE(OneNode("aten.embedding.default", {{"weight", {10, 4}}, {"indices", {2, 3}}}, {}, {{2, 3, 10}}).check(),
            "");
}

TEST(ShapeRules, PaddingOps) {
  auto pad = [](const char* op, Sizes padding, Sizes out) {
    return OneNode(op, {{"self", {1, 2, 4, 5}}}, {{"padding", padding}}, {out}).check();
  };
  // padding is (left, right, top, bottom): the last dim first.
  EXPECT_EQ(pad("aten.reflection_pad2d.default", {1, 2, 3, 0}, {1, 2, 7, 8}), "");
  EXPECT_NE(pad("aten.reflection_pad2d.default", {1, 2, 3, 0}, {1, 2, 8, 7}), "");
  EXPECT_NE(pad("aten.reflection_pad2d.default", {5, 0, 0, 0}, {1, 2, 4, 10}), "");  // not smaller than the dim
  EXPECT_EQ(pad("aten.replication_pad2d.default", {5, 0, 0, 0}, {1, 2, 4, 10}), "");
}

TEST(ShapeRules, FactoriesAndMasks) {
  EXPECT_EQ(OneNode("aten.full.default", {}, {{"size", Sizes{2, 3}}, {"fill_value", 1.0}}, {{2, 3}}).check(), "");
  EXPECT_NE(OneNode("aten.full.default", {}, {{"size", Sizes{2, 3}}, {"fill_value", 1.0}}, {{3, 2}}).check(), "");
  EXPECT_EQ(
      OneNode("aten.masked_fill.Scalar", {{"self", {2, 3}}, {"mask", {1, 3}}}, {{"value", 0.0}}, {{2, 3}}).check(), "");
  EXPECT_NE(
      OneNode("aten.masked_fill.Scalar", {{"self", {2, 3}}, {"mask", {4, 3}}}, {{"value", 0.0}}, {{2, 3}}).check(),
      "");  // the mask does not broadcast to self
  EXPECT_NE(OneNode("aten.arange.start", {}, {{"start", int64_t{0}}, {"end", int64_t{4}}}, {{}}).check(), "");
}

TEST(ShapeRules, AdvancedIndexingPlacesTheBroadcastIndexShape) {
  // x [2, 3, 4, 5]: adjacent indices replace their dims in place, separated ones go first.
  auto index = [](std::vector<bool> present, Sizes out) {
    OneNode one("aten.index.Tensor", {{"self", {2, 3, 4, 5}}}, {}, {out});
    std::vector<ir::Value*> indices;
    for (size_t i = 0; i < present.size(); ++i)
      indices.push_back(present[i] ? one.g.add_value("i" + std::to_string(i), ir::DType::kInt64,
                                                     ir::static_shape(std::vector<int64_t>{6, 1}))
                                   : nullptr);
    one.node->args.emplace_back("indices", indices);
    return one.check();
  };
  EXPECT_EQ(index({false, true, true}, {2, 6, 1, 5}), "");
  EXPECT_EQ(index({true, false, true}, {6, 1, 3, 5}), "");
  EXPECT_NE(index({true, false, true}, {3, 6, 1, 5}).find("differs from the computed [6,1,3,5]"), std::string::npos);
}

TEST(ShapeRules, RunTimeDimsStillFixTheRankAndTheStaticDims) {
  // self [s0, 5] with a run-time s0 (hint 3): the rank is checked, and so is every dim the output
  // declares static (it holds for the hints too); a run-time dim's hint is not compared.
  auto gather = [](Sizes out) {
    OneNode one("aten.gather.default", {{"self", {3, 5}}, {"index", {3, 2}}}, {{"dim", int64_t{1}}}, {out});
    for (const char* arg : {"self", "index"}) one.node->get_tensor(arg)->shape[0].symbol = "s0";
    one.node->outputs[0]->shape[0].symbol = "s0";
    return one.check();
  };
  EXPECT_EQ(gather({3, 2}), "");
  EXPECT_EQ(gather({9, 2}), "");  // a run-time dim may stand for any size
  EXPECT_NE(gather({3, 7}).find("the op gives 2 for dim 1"), std::string::npos) << gather({3, 7});
  EXPECT_NE(gather({3, 2, 1}).find("declares output 0 of rank 3; the op gives rank 2"), std::string::npos)
      << gather({3, 2, 1});
}

TEST(ShapeRules, ARuleThatRefusesTheHintsRefusesTheNode) {
  // linear of x [sym] by a [6, 6] weight declared [sym, 6]: at the hint 3 the rule refuses (and
  // at 6 it gives rank 1), and the softmax after it indexed a dim the lowered tensor does not have
  // (tests/fuzz/regressions/linear_of_a_runtime_dim_declared_one_rank_higher.pt2).
  auto linear = [](const char* symbol, Sizes x_sizes, int out_rank = 2) {
    OneNode one("aten.linear.default", {{"input", x_sizes}, {"weight", {6, 6}}}, {},
                {out_rank == 2 ? Sizes{x_sizes[0], 6} : Sizes{x_sizes[0]}});
    one.node->get_tensor("input")->shape[0].symbol = symbol;
    one.node->outputs[0]->shape[0].symbol = symbol;
    return one.check();
  };
  EXPECT_NE(linear("s77", {3}).find("does not match weight [6,6] (at the example sizes"), std::string::npos)
      << linear("s77", {3});
  EXPECT_NE(linear("s77", {6}).find("declares output 0 of rank 2; the op gives rank 1"), std::string::npos)
      << linear("s77", {6});
  EXPECT_EQ(linear("s77", {6}, 1), "");
}

TEST(ShapeRules, CatOfARunTimeDimChecksTheStaticDims) {
  // cat([x], 1) of x [s, 6] declared [s, 12]: a later RESHAPE built from the 12 had no valid size
  // (tests/fuzz/regressions/runtime_dim_cat_declares_a_static_dim_it_does_not_have.pt2).
  auto cat = [](Sizes out) {
    ir::Graph g;
    ir::Value* x = g.add_value("x", ir::DType::kFloat32, ir::static_shape(Sizes{3, 6}));
    x->shape[0].symbol = "s0";
    ir::Value* y = g.add_value("y", ir::DType::kFloat32, ir::static_shape(out));
    y->shape[0].symbol = "s0";
    ir::Node* n = g.add_node("aten.cat.default", "n", {}, {y});
    n->args.emplace_back("tensors", std::vector<ir::Value*>{x});
    n->args.emplace_back("dim", int64_t{1});
    return check_node_shapes(*n);
  };
  EXPECT_EQ(cat({3, 6}), "");
  EXPECT_NE(cat({3, 12}).find("the op gives 6 for dim 1"), std::string::npos) << cat({3, 12});
}

TEST(ShapeRules, WritesAndSortsKeepTheTensorsDtype) {
  // topk's values and index_put's result take the input's dtype, and index_put's values must have
  // it: LiteRT's TOPK_V2 and a KV cache's BATCH_MATMUL refused the mismatched files.
  OneNode topk("aten.topk.default", {{"self", {4, 10}}},
               {{"k", int64_t{3}}, {"dim", int64_t{-1}}, {"largest", true}, {"sorted", true}}, {{4, 3}, {4, 3}});
  EXPECT_EQ(topk.check(), "");
  topk.node->outputs[0]->dtype = ir::DType::kInt32;
  EXPECT_NE(topk.check().find("keeps the input's f32"), std::string::npos) << topk.check();

  topk.node->outputs[0]->dtype = ir::DType::kFloat32;
  topk.node->outputs[1]->dtype = ir::DType::kFloat32;
  EXPECT_NE(topk.check().find("declares indices output dtype f32"), std::string::npos) << topk.check();

  OneNode put("aten.index_put.default", {{"self", {1, 8, 4}}, {"values", {1, 2, 4}}}, {}, {{1, 8, 4}});
  EXPECT_EQ(put.check().find("dtype"), std::string::npos) << put.check();
  put.node->get_tensor("values")->dtype = ir::DType::kFloat16;
  EXPECT_NE(put.check().find("writes f16 values into a f32 tensor"), std::string::npos) << put.check();
  put.node->get_tensor("values")->dtype = ir::DType::kFloat32;
  put.node->get_tensor("self")->dtype = ir::DType::kFloat16;
  EXPECT_NE(put.check().find("keeps the input's f16"), std::string::npos) << put.check();
}

TEST(ShapeRules, ViewsOfRunTimeDimsKeepTheElementCount) {
  // self [s0, 1, 3] (s0 a run-time dim): [s0, 4, 3] or [4, 3] cannot hold its elements; [s0, 3] can.
  auto view = [](Sizes out, bool out_symbolic) {
    OneNode one("aten.view.default", {{"self", {5, 1, 3}}}, {{"size", Sizes(out.size(), -1)}}, {out});
    one.node->get_tensor("self")->shape[0].symbol = "s0";
    if (out_symbolic) one.node->outputs[0]->shape[0].symbol = "s0";
    return one.check();
  };
  EXPECT_EQ(view({5, 3}, true), "");
  EXPECT_NE(view({5, 4, 3}, true).find("another element count"), std::string::npos) << view({5, 4, 3}, true);
  EXPECT_NE(view({5, 3}, false).find("another element count"), std::string::npos) << view({5, 3}, false);
}

TEST(ShapeRules, QuantizeAndDequantizeTypesFollowTheirDtypeArgument) {
  // quantize_per_tensor(x f32, dtype=int8 (serialized ScalarType 2)) gives int8; LiteRT's QUANTIZE
  // refuses a float output and DEQUANTIZE an int16 input with a zero point.
  auto quantize = [](ir::DType out) {
    OneNode one("quantized_decomposed.quantize_per_tensor.default", {{"input", {2, 3}}},
                {{"scale", 0.1},
                 {"zero_point", int64_t{0}},
                 {"quant_min", int64_t{-128}},
                 {"quant_max", int64_t{127}},
                 {"dtype", int64_t{2}}},
                {{2, 3}});
    one.node->outputs[0]->dtype = out;
    return one.check();
  };
  EXPECT_EQ(quantize(ir::DType::kInt8), "");
  EXPECT_NE(quantize(ir::DType::kFloat32).find("the dtype argument is i8"), std::string::npos)
      << quantize(ir::DType::kFloat32);
  EXPECT_NE(quantize(ir::DType::kInt16), "");
}

}  // namespace
}  // namespace pt2tflite::archive
