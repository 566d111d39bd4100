#include "tflite/inspect.h"

#include "pt2tflite/convert.h"
#include "schema_generated.h"
#include "tflite/xnnpack_rules.h"

namespace pt2tflite::tflite_writer {

ModelSummary summarize_model(std::span<const uint8_t> bytes) {
  // The flatbuffer itself is under 2 GiB; constants stored after it (large models) are not
  // part of what the verifier walks.
  const size_t fb_size = std::min<size_t>(bytes.size(), FLATBUFFERS_MAX_BUFFER_SIZE - 1);
  flatbuffers::Verifier verifier(bytes.data(), fb_size, 128, 100000000, /*check_alignment=*/false);
  if (bytes.size() < 8 || !tflite::ModelBufferHasIdentifier(bytes.data()) || !tflite::VerifyModelBuffer(verifier))
    throw ConversionError("not a valid .tflite file (bad TFL3 flatbuffer)");
  const tflite::Model* m = tflite::GetModel(bytes.data());
  ModelSummary s;
  s.file_bytes = bytes.size();
  if (m->buffers())
    for (const tflite::Buffer* b : *m->buffers())
      s.constant_bytes += b->data() ? b->data()->size() : (b->offset() > 1 ? b->size() : 0);
  auto code_of = [&](uint32_t opcode) {
    const tflite::OperatorCode* c = m->operator_codes()->Get(opcode);
    return std::max<int>(c->builtin_code(), c->deprecated_builtin_code());
  };
  auto tensor_names = [](const tflite::SubGraph& g, const flatbuffers::Vector<int32_t>* ids) {
    std::vector<std::string> names;
    if (ids)
      for (int32_t i : *ids)
        if (i >= 0 && g.tensors() && static_cast<uint32_t>(i) < g.tensors()->size()) {
          const tflite::Tensor* t = g.tensors()->Get(i);
          names.push_back(t->name() ? t->name()->str() : "");
        }
    return names;
  };
  if (m->subgraphs())
    for (uint32_t gi = 0; gi < m->subgraphs()->size(); ++gi) {
      const tflite::SubGraph* g = m->subgraphs()->Get(gi);
      if (!g->operators()) continue;
      for (uint32_t oi = 0; oi < g->operators()->size(); ++oi) {
        const tflite::Operator* op = g->operators()->Get(oi);
        auto code = static_cast<tflite::BuiltinOperator>(code_of(op->opcode_index()));
        const char* name = tflite::EnumNameBuiltinOperator(code);
        const std::string key = *name ? name : "BUILTIN_" + std::to_string(code);
        s.op_histogram[key]++;
        s.op_count++;
        const std::string why = xnnpack_refusal(*m, *g, *op);
        if (why.empty())
          s.xnnpack[key].delegated++;
        else
          s.xnnpack[key].refused[why]++;
        s.ops.push_back(OpInfo{static_cast<int>(gi), static_cast<int>(oi), key, tensor_names(*g, op->inputs()),
                               tensor_names(*g, op->outputs()), why});
      }
    }
  if (m->subgraphs() && m->subgraphs()->size() > 0) {
    const tflite::SubGraph* g = m->subgraphs()->Get(0);
    auto info = [&](int32_t i) {
      const tflite::Tensor* t = g->tensors()->Get(i);
      TensorInfo ti;
      ti.name = t->name() ? t->name()->str() : "";
      ti.dtype = tflite::EnumNameTensorType(t->type());
      if (t->shape()) ti.shape.assign(t->shape()->begin(), t->shape()->end());
      return ti;
    };
    if (g->inputs())
      for (int32_t i : *g->inputs()) s.inputs.push_back(info(i));
    if (g->outputs())
      for (int32_t i : *g->outputs()) s.outputs.push_back(info(i));
  }
  if (m->signature_defs())
    for (const tflite::SignatureDef* d : *m->signature_defs()) {
      s.signatures.push_back(d->signature_key() ? d->signature_key()->str() : "");
      ModelSummary::SignatureIo io;
      auto names = [](const auto* maps, std::vector<std::string>& out) {
        if (maps)
          for (const tflite::TensorMap* t : *maps) out.push_back(t->name() ? t->name()->str() : "");
      };
      names(d->inputs(), io.inputs);
      names(d->outputs(), io.outputs);
      s.signature_io.push_back(std::move(io));
    }
  return s;
}

}  // namespace pt2tflite::tflite_writer
