// The PT2 reader on small hand-built archives: what it accepts, and the error for each bad input.
#include "archive/pt2_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "archive/op_schema.h"
#include "zip_builder.h"

namespace pt2tflite::archive {
namespace {

using json = nlohmann::json;

json tensor_meta(std::vector<int64_t> sizes, std::vector<int64_t> strides = {}, int64_t offset = 0) {
  if (strides.empty()) {
    strides.assign(sizes.size(), 1);
    for (int i = static_cast<int>(sizes.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * sizes[i + 1];
  }
  json s = json::array(), st = json::array();
  for (auto v : sizes) s.push_back({{"as_int", v}});
  for (auto v : strides) st.push_back({{"as_int", v}});
  return {{"dtype", 7},
          {"sizes", s},
          {"requires_grad", false},
          {"device", {{"type", "cpu"}, {"index", nullptr}}},
          {"strides", st},
          {"storage_offset", {{"as_int", offset}}},
          {"layout", 7}};
}

// out = x * w, with w [2, 3] a parameter; every knob makes one input bad.
struct ArchiveSpec {
  int schema_major = 8;
  std::string verifier = "ATEN";
  bool include_weight_entry = true;
  bool pickled = false;
  bool legacy_pickle_layout = false;
  size_t weight_bytes = 24;
  std::vector<int64_t> weight_strides;  // empty: contiguous
  std::string omit_model_json;
  std::vector<int64_t> out_sizes = {2, 3};  // the declared shape of mul
};

std::vector<uint8_t> build(const ArchiveSpec& spec) {
  json node = {{"target", "torch.ops.aten.mul.Tensor"},
               {"inputs",
                {{{"name", "self"}, {"arg", {{"as_tensor", {{"name", "x"}}}}}, {"kind", 1}},
                 {{"name", "other"}, {"arg", {{"as_tensor", {{"name", "p_w"}}}}}, {"kind", 1}}}},
               {"outputs", {{{"as_tensor", {{"name", "mul"}}}}}},
               {"metadata",
                {{"stack_trace",
                  "File \"/site/torch/nn/x.py\", line 3, in f\n  File \"/home/me/model.py\", line 42, in forward"},
                 {"nn_module_stack", "L__self__,,M;L__self___blk,blk,my.Block"}}}};
  json ep = {{"graph_module",
              {{"graph",
                {{"inputs", {{{"as_tensor", {{"name", "p_w"}}}}, {{"as_tensor", {{"name", "x"}}}}}},
                 {"outputs", {{{"as_tensor", {{"name", "mul"}}}}}},
                 {"nodes", {node}},
                 {"tensor_values",
                  {{"x", tensor_meta({2, 3})}, {"p_w", tensor_meta({2, 3})}, {"mul", tensor_meta(spec.out_sizes)}}},
                 {"sym_int_values", json::object()},
                 {"is_single_tensor_return", true}}},
               {"signature",
                {{"input_specs",
                  {{{"parameter", {{"arg", {{"name", "p_w"}}}, {"parameter_name", "w"}}}},
                   {{"user_input", {{"arg", {{"as_tensor", {{"name", "x"}}}}}}}}}},
                 {"output_specs", {{{"user_output", {{"arg", {{"as_tensor", {{"name", "mul"}}}}}}}}}}}}}},
             {"schema_version", {{"major", spec.schema_major}, {"minor", 20}}},
             {"verifiers", {spec.verifier}},
             {"opset_version", {{"aten", 10}}}};
  json wcfg = {{"config",
                {{"w",
                  {{"path_name", "weight_0"},
                   {"is_param", true},
                   {"use_pickle", spec.pickled},
                   {"tensor_meta", tensor_meta({2, 3}, spec.weight_strides)}}}}}};
  std::string weights(spec.weight_bytes, '\0');
  for (size_t i = 0; i + 4 <= weights.size(); i += 4) {
    float f = static_cast<float>(i / 4);
    std::memcpy(weights.data() + i, &f, 4);
  }
  testing::ZipBuilder b;
  if (spec.legacy_pickle_layout) {
    b.add("model/data/weights/model.pt", "PK-pickle");
  } else {
    if (spec.include_weight_entry) b.add("model/data/weights/weight_0", weights);
    b.add("model/data/weights/model_weights_config.json", wcfg.dump());
    if (spec.omit_model_json.empty()) b.add("model/models/model.json", ep.dump());
  }
  b.add("model/archive_format", "pt2");
  b.add("model/byteorder", "little");
  return b.build();
}

ImportResult read(const std::vector<uint8_t>& bytes) { return read_pt2(ZipArchive::open_bytes(nullptr, bytes)); }

std::string error_of(const ArchiveSpec& spec) {
  auto bytes = build(spec);
  try {
    read(bytes);
  } catch (const ConversionError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Pt2Reader, ReadsGraphWeightsAndSourceInfo) {
  auto bytes = build({});
  ImportResult r = read(bytes);
  ASSERT_TRUE(r.diagnostics.empty());
  const ir::Graph& g = r.module.main();
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0]->name, "x");
  ASSERT_EQ(g.nodes().size(), 1u);
  const ir::Node& n = *g.nodes()[0];
  EXPECT_EQ(n.op, "aten.mul.Tensor");
  ir::Value* w = n.get_tensor("other");
  ASSERT_TRUE(w && w->is_const());
  auto values = w->data->as<float>();
  ASSERT_EQ(values.size(), 6u);
  EXPECT_EQ(values[5], 5.0f);
  // The user's frame, not torch's, and the innermost module.
  EXPECT_EQ(n.source.location, "/home/me/model.py:42");
  EXPECT_EQ(n.source.module_path, "blk");
  ASSERT_EQ(r.module.signatures.size(), 1u);
  EXPECT_EQ(r.module.signatures[0].key, "serving_default");
  EXPECT_EQ(r.module.signatures[0].output_names, std::vector<std::string>{"output_0"});
}

TEST(Pt2Reader, HonoursStridesOfNonContiguousWeights) {
  ArchiveSpec spec;
  spec.weight_strides = {1, 2};  // the stored [3, 2] matrix read as its transpose
  auto bytes = build(spec);
  ImportResult r = read(bytes);
  auto values = r.module.main().nodes()[0]->get_tensor("other")->data->as<float>();
  // Element (i, j) is storage[i + 2 j]: row 0 = {0, 2, 4}, row 1 = {1, 3, 5}.
  EXPECT_EQ(std::vector<float>(values.begin(), values.end()), (std::vector<float>{0, 2, 4, 1, 3, 5}));
}

TEST(Pt2Reader, SchemasHoldTheDefaultsOfOmittedArguments) {
  // torch.export omits arguments equal to their default; the generated schemas restore them.
  auto default_of = [](std::string_view op, std::string_view arg) -> const ir::Attr* {
    const OpSchema* s = op_schema(op);
    if (!s) return nullptr;
    for (const ArgSpec& a : s->args)
      if (a.name == arg && !a.required) return &a.default_value;
    return nullptr;
  };
  // max_pool2d's omitted stride means "= kernel"; add's omitted alpha is 1.
  const ir::Attr* stride = default_of("aten.max_pool2d_with_indices.default", "stride");
  ASSERT_NE(stride, nullptr);
  EXPECT_TRUE(std::get<std::vector<int64_t>>(*stride).empty());
  ASSERT_NE(default_of("aten.add.Tensor", "alpha"), nullptr);
  EXPECT_EQ(std::get<int64_t>(*default_of("aten.add.Tensor", "alpha")), 1);
  // An op that is only evaluated at convert time (no lowering rule) has its schema too.
  ASSERT_NE(default_of("aten.rsub.Tensor", "alpha"), nullptr);
  EXPECT_EQ(std::get<int64_t>(*default_of("aten.rsub.Tensor", "alpha")), 1);
  EXPECT_EQ(default_of("aten.relu.default", "self"), nullptr);
}

TEST(Pt2Reader, ElementwiseOutputBelowItsOperandsRankIsRefused) {
  // Checked by rank before any size rule, so it holds for run-time dims too (the lowerings prepend
  // output-rank − operand-rank leading 1s to each operand).
  ArchiveSpec spec;
  spec.out_sizes = {6};
  EXPECT_NE(error_of(spec).find("declares an output of rank 1 for an operand of rank 2"), std::string::npos)
      << error_of(spec);
}

TEST(Pt2Reader, NotAPt2Archive) {
  ArchiveSpec spec;
  spec.omit_model_json = "yes";
  EXPECT_NE(error_of(spec).find("not a PT2 archive"), std::string::npos) << error_of(spec);
}

TEST(Pt2Reader, PickledWeights) {
  ArchiveSpec spec;
  spec.pickled = true;
  EXPECT_NE(error_of(spec).find("pickled"), std::string::npos) << error_of(spec);
  ArchiveSpec legacy;
  legacy.legacy_pickle_layout = true;
  EXPECT_NE(error_of(legacy).find("PyTorch >= 2.9"), std::string::npos) << error_of(legacy);
}

TEST(Pt2Reader, UnknownSchemaMajor) {
  ArchiveSpec spec;
  spec.schema_major = 7;
  EXPECT_NE(error_of(spec).find("schema version 7"), std::string::npos) << error_of(spec);
}

TEST(Pt2Reader, TrainingIrTellsToRunDecompositions) {
  ArchiveSpec spec;
  spec.verifier = "TRAINING";
  EXPECT_NE(error_of(spec).find("run_decompositions"), std::string::npos) << error_of(spec);
}

TEST(Pt2Reader, MissingWeightEntry) {
  ArchiveSpec spec;
  spec.include_weight_entry = false;
  EXPECT_NE(error_of(spec).find("no entry"), std::string::npos) << error_of(spec);
}

TEST(Pt2Reader, TruncatedPayload) {
  ArchiveSpec spec;
  spec.weight_bytes = 20;  // 6 floats need 24 bytes
  EXPECT_NE(error_of(spec).find("out of range"), std::string::npos) << error_of(spec);
}

TEST(Pt2Reader, SourceInfoFallsBackToInnermostFrame) {
  auto info = source_info_from_metadata("", "File \"/x/torch/nn/functional.py\", line 7, in relu");
  EXPECT_EQ(info.location, "/x/torch/nn/functional.py:7");
}

TEST(Pt2Reader, ModulePathsMayHoldCommas) {
  // add_module("a,b", ...): the key and the path both hold the comma; the type follows the last one.
  auto info = source_info_from_metadata("L__self__,,M;L__self__a,b.1,a,b.1,torch.nn.modules.activation.ReLU", "");
  EXPECT_EQ(info.module_path, "a,b.1");
  EXPECT_EQ(info.module_type, "torch.nn.modules.activation.ReLU");
  // A comma inside brackets is part of the path.
  info = source_info_from_metadata("k,getattr(L['self'].model, '22'),ultralytics.nn.modules.head.Detect", "");
  EXPECT_EQ(info.module_path, "getattr(L['self'].model, '22')");
  EXPECT_EQ(info.module_type, "ultralytics.nn.modules.head.Detect");
}

TEST(Pt2Reader, SourceLineIsTheInnermostUserFrame) {
  const std::string trace =
      "File \"/home/u/model.py\", line 10, in forward\n"
      "File \"/home/u/blocks.py\", line 42, in forward\n"
      "File \"/usr/lib/python3.11/contextlib.py\", line 81, in inner\n"
      "File \"/usr/lib/python3.11/site-packages/torch/nn/functional.py\", line 7, in relu\n";
  EXPECT_EQ(source_info_from_metadata("", trace).location, "/home/u/blocks.py:42");
}

TEST(Pt2Reader, SourceLineTypedAtAPromptIsNotTorchInternals) {
  // Code typed at a prompt has no file ("<stdin>"); torch.export's own frames follow it.
  const std::string trace =
      "File \"/usr/lib/python3.11/site-packages/torch/nn/modules/module.py\", line 1794, in _call_impl\n"
      "File \"<stdin>\", line 3, in forward\n"
      "File \"/usr/lib/python3.11/site-packages/torch/fx/proxy.py\", line 287, in create_node\n";
  EXPECT_EQ(source_info_from_metadata("", trace).location, "<stdin>:3");
}

}  // namespace
}  // namespace pt2tflite::archive
