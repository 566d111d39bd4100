#include "tflite/writer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "ir/constants.h"
#include "schema_generated.h"

namespace pt2tflite::tflite_writer {
namespace {

// x → ADD(x, c1) → ADD(·, c2) with c1 and c2 equal constants.
ir::Module two_adds() {
  ir::Module m;
  m.subgraphs.push_back(std::make_unique<ir::Graph>());
  ir::Graph& g = m.main();
  auto shape = ir::static_shape(std::vector<int64_t>{1, 4});
  std::vector<float> ones(4, 1.0f);
  ir::Value* x = g.add_value("x", ir::DType::kFloat32, shape);
  ir::Value* c1 =
      g.add_const("c1", ir::DType::kFloat32, shape, ir::ConstData::own(ir::to_bytes(std::span<const float>(ones))));
  ir::Value* c2 =
      g.add_const("c2", ir::DType::kFloat32, shape, ir::ConstData::own(ir::to_bytes(std::span<const float>(ones))));
  ir::Value* y = g.add_value("y", ir::DType::kFloat32, shape);
  ir::Value* z = g.add_value("z", ir::DType::kFloat32, shape);
  g.add_node("tfl.ADD", "add1", {x, c1}, {y})->set("fused_activation", std::string("NONE"));
  g.add_node("tfl.ADD", "add2", {y, c2}, {z})->set("fused_activation", std::string("RELU"));
  g.inputs = {x};
  g.outputs = {z};
  m.signatures.push_back(ir::Signature{"serving_default", 0, {"x"}, {"output_0"}});
  return m;
}

TEST(Writer, WritesAValidDeduplicatedModel) {
  ir::Module m = two_adds();
  Flatbuffer::Bytes fb = write_model(m).materialize();
  ASSERT_TRUE(tflite::ModelBufferHasIdentifier(fb.bytes.data()));
  flatbuffers::Verifier v(fb.bytes.data(), fb.bytes.size());
  ASSERT_TRUE(tflite::VerifyModelBuffer(v));
  const tflite::Model* model = tflite::GetModel(fb.bytes.data());
  EXPECT_EQ(model->version(), 3u);
  // Buffer 0 is the empty sentinel; the two equal constants share one buffer.
  ASSERT_EQ(model->buffers()->size(), 2u);
  EXPECT_TRUE(!model->buffers()->Get(0)->data() || model->buffers()->Get(0)->data()->size() == 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(model->buffers()->Get(1)->data()->data()) % 16, 0u);
  // One opcode for the two ADDs.
  ASSERT_EQ(model->operator_codes()->size(), 1u);
  EXPECT_EQ(model->operator_codes()->Get(0)->builtin_code(), tflite::BuiltinOperator_ADD);
  const tflite::SubGraph* g = model->subgraphs()->Get(0);
  ASSERT_EQ(g->operators()->size(), 2u);
  EXPECT_EQ(g->operators()->Get(1)->builtin_options_as_AddOptions()->fused_activation_function(),
            tflite::ActivationFunctionType_RELU);
  const tflite::SignatureDef* sig = model->signature_defs()->Get(0);
  EXPECT_EQ(sig->signature_key()->str(), "serving_default");
  EXPECT_EQ(sig->inputs()->Get(0)->name()->str(), "x");
  EXPECT_EQ(sig->outputs()->Get(0)->tensor_index(), static_cast<uint32_t>(g->outputs()->Get(0)));
}

TEST(Writer, IsDeterministic) {
  ir::Module a = two_adds(), b = two_adds();
  Flatbuffer::Bytes fa = write_model(a).materialize(), fb = write_model(b).materialize();
  ASSERT_EQ(fa.bytes.size(), fb.bytes.size());
  EXPECT_TRUE(std::equal(fa.bytes.begin(), fa.bytes.end(), fb.bytes.begin()));
}

// The CLI streams the file (constants written from where they are, never copied into the
// flatbuffer); the Python API assembles it in memory. Both must give the same bytes, inline
// and with external buffers, and the constants must land where the buffers point.
std::vector<uint8_t> streamed(const ir::Module& m, bool external) {
  std::vector<uint8_t> out;
  Flatbuffer fb = write_model(m, external);
  fb.stream([&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); });
  EXPECT_EQ(out.size(), fb.size());
  return out;
}

TEST(Writer, StreamedFileEqualsAssembledFile) {
  for (bool external : {false, true}) {
    ir::Module a = two_adds(), b = two_adds();
    Flatbuffer::Bytes whole = write_model(a, external).materialize();
    std::vector<uint8_t> s = streamed(b, external);
    ASSERT_EQ(whole.bytes.size(), s.size()) << "external=" << external;
    EXPECT_TRUE(std::equal(s.begin(), s.end(), whole.bytes.begin())) << "external=" << external;

    const tflite::Buffer* buf = tflite::GetModel(s.data())->buffers()->Get(1);
    const uint8_t* data = external ? s.data() + buf->offset() : buf->data()->data();
    size_t size = external ? buf->size() : buf->data()->size();
    ASSERT_EQ(size, 4 * sizeof(float));
    float f[4];
    std::memcpy(f, data, sizeof(f));
    for (float x : f) EXPECT_EQ(x, 1.0f) << "external=" << external;
  }
}

TEST(Writer, OpcodesAbove127UseTheNewField) {
  ir::Module m;
  m.subgraphs.push_back(std::make_unique<ir::Graph>());
  ir::Graph& g = m.main();
  auto shape = ir::static_shape(std::vector<int64_t>{4});
  ir::Value* x = g.add_value("x", ir::DType::kFloat32, shape);
  ir::Value* y = g.add_value("y", ir::DType::kFloat32, shape);
  g.add_node("tfl.GELU", "gelu", {x}, {y})->set("approximate", false);
  g.inputs = {x};
  g.outputs = {y};
  Flatbuffer::Bytes fb = write_model(m).materialize();
  const tflite::OperatorCode* c = tflite::GetModel(fb.bytes.data())->operator_codes()->Get(0);
  EXPECT_EQ(c->builtin_code(), tflite::BuiltinOperator_GELU);
  EXPECT_EQ(c->deprecated_builtin_code(), 127);
}

}  // namespace
}  // namespace pt2tflite::tflite_writer
