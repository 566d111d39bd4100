#include "tflite/writer.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_map>

#include "tflite/op_options.h"
#include "util/check.h"

namespace pt2tflite::tflite_writer {
namespace {

// The name a tensor carries in the file: the PyTorch module path of the op that makes it, as
// '/'-separated scopes, then the IR name ("features/1/block/0/relu_1"). Model Explorer and Netron
// fold a graph by those scopes, so the file reads as the model's module tree. The part after the
// last '/' is the IR name, which pt2tflite.debug maps back to the FX node (IR names never hold a
// '/'; a module path may, and then only adds a scope level).
std::string file_tensor_name(const ir::Value& v, const std::string& module_path) {
  if (module_path.empty()) return v.name;
  std::string name = module_path;
  std::replace(name.begin(), name.end(), '.', '/');
  return name + "/" + v.name;
}

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

constexpr uint32_t kSchemaVersion = 3;  // InterpreterBuilder rejects any other
constexpr size_t kBufferAlignment = 16;
// A flatbuffer cannot exceed 2 GiB. Above this much constant data the bytes go after the
// flatbuffer, addressed by Buffer.offset/size (offset counts from the start of the file).
constexpr size_t kMaxInlineConstantBytes = (size_t{1} << 31) - (size_t{64} << 20);
// Placeholder offset (> 1 marks "outside the flatbuffer") patched once the flatbuffer size is known.
constexpr uint64_t kPendingOffset = 2;

size_t align_up(size_t n) { return (n + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment; }

size_t constant_bytes(const ir::Module& m) {
  size_t total = 0;
  for (const auto& g : m.subgraphs)
    for (const auto& v : g->values()) {
      if (v->is_const()) total += v->data->bytes().size();
      if (v->quant && v->quant->blockwise) total += v->quant->blockwise->fp16_scales.bytes().size();
    }
  return total;
}

class ModelWriter {
 public:
  ModelWriter(const ir::Module& m, bool external) : module_(m), external_(external), fbb_(initial_size(m, external)) {}

  Flatbuffer run() {
    // Buffer 0 is the empty sentinel that tensors without data point at.
    buffers_.push_back(tflite::CreateBuffer(fbb_));
    std::vector<Offset<tflite::SubGraph>> subgraphs;
    for (const auto& g : module_.subgraphs) subgraphs.push_back(write_subgraph(*g));
    std::vector<Offset<tflite::SignatureDef>> sigs;
    for (const ir::Signature& s : module_.signatures) sigs.push_back(write_signature(s));
    auto model =
        tflite::CreateModel(fbb_, kSchemaVersion, fbb_.CreateVector(opcodes_), fbb_.CreateVector(subgraphs),
                            fbb_.CreateString("pt2tflite"), fbb_.CreateVector(buffers_), 0, 0, fbb_.CreateVector(sigs));
    fbb_.Finish(model, tflite::ModelIdentifier());
    const uint64_t head_size = fbb_.GetSize();
    // Inline constants were placed by their distance from the end of the builder, which grows
    // downwards; now that its size is final, that gives their offset in the file.
    for (Flatbuffer::Placed& p : placed_) p.offset = head_size - p.offset;
    if (external_) place_outside_buffers();
    std::sort(placed_.begin(), placed_.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
    uint64_t size = external_ ? file_size_ : head_size;
    auto detached = std::make_shared<flatbuffers::DetachedBuffer>(fbb_.Release());
    std::span<uint8_t> head(detached->data(), detached->size());
    return Flatbuffer(std::move(detached), head, std::move(placed_), size);
  }

 private:
  // Reserve room for everything up front (constants only when they go inside the flatbuffer) so the builder never
  // re-copies the weights: growing past the reservation doubles the buffer, a second copy of every weight at the peak.
  // Besides the constants, each tensor and op takes a table, a name and index vectors (an upper bound).
  static size_t initial_size(const ir::Module& m, bool external) {
    size_t total = 1 << 16;
    for (const auto& g : m.subgraphs) {
      for (const auto& v : g->values()) {
        total += 128 + v->name.size() + 8 * v->shape.size();
        if (v->is_const() && !external) total += v->data->bytes().size() + kBufferAlignment + 64;
        if (v->quant) total += 64 + 16 * v->quant->scale.size();
        if (v->quant && v->quant->blockwise)  // the scales tensor
          total += 192 + v->name.size() + v->quant->blockwise->fp16_scales.bytes().size() + kBufferAlignment;
      }
      for (const auto& n : g->nodes()) total += 128 + 4 * (n->inputs.size() + n->outputs.size());
    }
    return total;
  }

  // File = flatbuffer, then each constant at a 16-byte boundary, then 16 zero bytes (XNNPACK may
  // read up to 16 bytes past a tensor). Offsets are patched into the finished flatbuffer, and the
  // constants join the inline ones to be streamed or copied in file order.
  void place_outside_buffers() {
    uint64_t pos = align_up(fbb_.GetSize());
    auto* buffers = tflite::GetMutableModel(fbb_.GetBufferPointer())->mutable_buffers();
    for (auto& [index, p] : outside_) {
      p.offset = pos;
      pos = align_up(pos + p.data.bytes().size());
      bool ok = buffers->GetMutableObject(index)->mutate_offset(p.offset);
      PT2_CHECK(ok, "buffer " << index << " has no offset field to patch");
      placed_.push_back(std::move(p));
    }
    outside_.clear();
    file_size_ = pos + kBufferAlignment;
  }

  uint32_t buffer_for(const ir::ConstData& data) {
    std::span<const uint8_t> bytes = data.bytes();
    if (bytes.empty()) return 0;
    // The key points into the module's constant, alive meanwhile. One lookup-or-insert hashes
    // the bytes once (the map caches hash codes, so growing it does not read them again).
    std::string_view key(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    uint32_t index = static_cast<uint32_t>(buffers_.size());
    auto [it, inserted] = buffer_index_.try_emplace(key, index);
    // Hashing read every byte; mapped weights need not stay resident until they are streamed out.
    data.drop_pages();
    if (!inserted) {
      // Finding the equal bytes compared them with the first constant's, which brought its pages
      // back: two signatures sharing every weight would otherwise hold one archive's weights
      // resident until they are streamed out (measured +1.0x the weight bytes on a 1.4 GB Llama).
      first_with_bytes_.at(it->second).drop_pages();
      return it->second;
    }
    first_with_bytes_.emplace(index, data);
    if (external_) {
      buffers_.push_back(tflite::CreateBuffer(fbb_, 0, kPendingOffset, bytes.size()));
      outside_.push_back({index, Flatbuffer::Placed{0, data}});
    } else {
      // Room for the bytes, laid out exactly as CreateVector would, but left unwritten: the
      // bytes are streamed into place later. Until the builder is finished, a place is known
      // only by its distance from the builder's end.
      fbb_.ForceVectorAlignment(bytes.size(), 1, kBufferAlignment);
      uint8_t* dst = nullptr;
      auto room = fbb_.CreateUninitializedVector(bytes.size(), 1, &dst);
      uint64_t from_end = fbb_.GetSize() - static_cast<uint64_t>(dst - fbb_.GetCurrentBufferPointer());
      placed_.push_back(Flatbuffer::Placed{from_end, data});
      buffers_.push_back(tflite::CreateBuffer(fbb_, flatbuffers::Offset<flatbuffers::Vector<uint8_t>>(room)));
    }
    return index;
  }

  uint32_t opcode_for(tflite::BuiltinOperator code, int version) {
    auto key = std::make_pair(static_cast<int>(code), version);
    if (auto it = opcode_index_.find(key); it != opcode_index_.end()) return it->second;
    // Codes above 127 only fit the newer int32 field; the old byte field saturates.
    auto deprecated =
        static_cast<int8_t>(std::min<int>(code, tflite::BuiltinOperator_PLACEHOLDER_FOR_GREATER_OP_CODES));
    opcodes_.push_back(tflite::CreateOperatorCode(fbb_, deprecated, 0, version, code));
    uint32_t index = static_cast<uint32_t>(opcodes_.size() - 1);
    opcode_index_.emplace(key, index);
    return index;
  }

  // The FLOAT16 scales of a blockwise-quantized weight, a tensor that no op reads: the weight's
  // BlockwiseQuantization names it by index.
  Offset<tflite::Tensor> write_block_scales(const ir::Value& weight, const std::string& scope) {
    const ir::BlockwiseScales& b = *weight.quant->blockwise;
    std::vector<int32_t> shape;
    for (const ir::Dim& d : b.shape) shape.push_back(static_cast<int32_t>(d.size));
    return tflite::CreateTensor(fbb_, fbb_.CreateVector(shape), tflite::TensorType_FLOAT16, buffer_for(b.fp16_scales),
                                fbb_.CreateString(file_tensor_name(weight, scope) + "_scales"), 0, false, 0, 0,
                                /*has_rank=*/true);
  }

  Offset<tflite::Tensor> write_tensor(const ir::Value& v, const std::string& scope, int32_t block_scales_index) {
    std::vector<int32_t> shape, signature;
    bool dynamic = false;
    for (const ir::Dim& d : v.shape) {
      shape.push_back(static_cast<int32_t>(d.is_static() ? d.size : 1));
      signature.push_back(static_cast<int32_t>(d.is_static() ? d.size : -1));
      dynamic |= !d.is_static();
    }
    Offset<tflite::QuantizationParameters> q = 0;
    if (v.quant && v.quant->blockwise) {
      auto details = tflite::CreateBlockwiseQuantization(fbb_, block_scales_index, /*zero_points=*/-1,
                                                         v.quant->blockwise->block_size);
      q = tflite::CreateQuantizationParameters(fbb_, 0, 0, 0, 0, tflite::QuantizationDetails_BlockwiseQuantization,
                                               details.Union(), v.quant->axis);
    } else if (v.quant) {
      q = tflite::CreateQuantizationParameters(fbb_, 0, 0, fbb_.CreateVector(v.quant->scale),
                                               fbb_.CreateVector(v.quant->zero_point), tflite::QuantizationDetails_NONE,
                                               0, v.quant->axis);
    }
    uint32_t buffer = v.is_const() ? buffer_for(*v.data) : 0;
    return tflite::CreateTensor(fbb_, fbb_.CreateVector(shape), tensor_type(v.dtype), buffer,
                                fbb_.CreateString(file_tensor_name(v, scope)), q, false, 0,
                                dynamic ? fbb_.CreateVector(signature) : 0, /*has_rank=*/true);
  }

  Offset<tflite::SubGraph> write_subgraph(const ir::Graph& g) {
    // Tensors are numbered in first-use order: inputs, then each op's operands and results.
    std::unordered_map<const ir::Value*, int32_t> index;
    std::vector<const ir::Value*> order;
    auto id = [&](const ir::Value* v) -> int32_t {
      if (!v) return -1;  // omitted optional operand
      auto [it, inserted] = index.emplace(v, static_cast<int32_t>(order.size()));
      if (inserted) order.push_back(v);
      return it->second;
    };
    std::vector<int32_t> inputs, outputs;
    for (const ir::Value* v : g.inputs) inputs.push_back(id(v));
    struct OpRecord {
      BuiltinOp op;
      uint32_t opcode;
      std::vector<int32_t> ins, outs;
    };
    std::vector<OpRecord> ops;
    // A constant is shown inside the module of the first op that reads it.
    std::unordered_map<const ir::Value*, const std::string*> first_reader_scope;
    for (const auto& n : g.nodes()) {
      OpRecord r{build_builtin_op(fbb_, *n), 0, {}, {}};
      r.opcode = opcode_for(r.op.code, op_version(*n, r.op.code));
      for (const ir::Value* v : n->inputs) {
        r.ins.push_back(id(v));
        if (v && v->is_const()) first_reader_scope.emplace(v, &n->source.module_path);
      }
      for (const ir::Value* v : n->outputs) r.outs.push_back(id(v));
      ops.push_back(std::move(r));
    }
    for (const ir::Value* v : g.outputs) outputs.push_back(id(v));
    graph_tensor_index_[&g] = index;

    // Blockwise scales tensors come after every tensor an op or the graph refers to.
    std::vector<const ir::Value*> blockwise;
    for (const ir::Value* v : order)
      if (v->quant && v->quant->blockwise) blockwise.push_back(v);
    std::vector<Offset<tflite::Tensor>> tensors;
    static const std::string kNoScope;
    auto scope_of = [&](const ir::Value* v) -> const std::string& {
      if (v->producer) return v->producer->source.module_path;
      if (auto it = first_reader_scope.find(v); it != first_reader_scope.end()) return *it->second;
      return kNoScope;
    };
    int32_t next_scales = static_cast<int32_t>(order.size());
    for (const ir::Value* v : order)
      tensors.push_back(write_tensor(*v, scope_of(v), v->quant && v->quant->blockwise ? next_scales++ : -1));
    for (const ir::Value* v : blockwise) tensors.push_back(write_block_scales(*v, scope_of(v)));
    std::vector<Offset<tflite::Operator>> operators;
    for (const OpRecord& r : ops)
      operators.push_back(tflite::CreateOperator(fbb_, r.opcode, fbb_.CreateVector(r.ins), fbb_.CreateVector(r.outs),
                                                 r.op.options_type, r.op.options));
    return tflite::CreateSubGraph(fbb_, fbb_.CreateVector(tensors), fbb_.CreateVector(inputs),
                                  fbb_.CreateVector(outputs), fbb_.CreateVector(operators), fbb_.CreateString(g.name));
  }

  Offset<tflite::SignatureDef> write_signature(const ir::Signature& s) {
    const ir::Graph& g = *module_.subgraphs.at(s.subgraph);
    const auto& index = graph_tensor_index_.at(&g);
    auto maps = [&](const std::vector<std::string>& names, const std::vector<ir::Value*>& values) {
      PT2_CHECK(names.size() == values.size(),
                "signature " << s.key << " names " << names.size() << " of " << values.size() << " tensors");
      std::vector<Offset<tflite::TensorMap>> out;
      for (size_t i = 0; i < names.size(); ++i)
        out.push_back(tflite::CreateTensorMap(fbb_, fbb_.CreateString(names[i]), index.at(values[i])));
      return fbb_.CreateVector(out);
    };
    auto ins = maps(s.input_names, g.inputs);
    auto outs = maps(s.output_names, g.outputs);
    return tflite::CreateSignatureDef(fbb_, ins, outs, fbb_.CreateString(s.key), s.subgraph);
  }

  const ir::Module& module_;
  const bool external_;  // constants after the flatbuffer instead of inside it
  FlatBufferBuilder fbb_;
  std::vector<std::pair<uint32_t, Flatbuffer::Placed>> outside_;  // buffer index, bytes (external)
  std::vector<Flatbuffer::Placed> placed_;  // inline constants, by distance from the builder's end
  uint64_t file_size_ = 0;                  // external: flatbuffer + constants + tail padding
  std::vector<Offset<tflite::Buffer>> buffers_;
  std::vector<Offset<tflite::OperatorCode>> opcodes_;
  std::unordered_map<std::string_view, uint32_t> buffer_index_;
  // The constant each deduplicated buffer index was made from (to drop its pages again after a compare).
  std::unordered_map<uint32_t, ir::ConstData> first_with_bytes_;
  std::map<std::pair<int, int>, uint32_t> opcode_index_;
  std::unordered_map<const ir::Graph*, std::unordered_map<const ir::Value*, int32_t>> graph_tensor_index_;
};

// Zeros for the gaps between pieces of an external-buffers file.
constexpr size_t kZeroChunk = 4096;
const uint8_t kZeros[kZeroChunk] = {};

}  // namespace

Flatbuffer::Flatbuffer(std::shared_ptr<void> storage, std::span<uint8_t> head, std::vector<Placed> constants,
                       uint64_t size)
    : storage_(std::move(storage)), head_(head), constants_(std::move(constants)), size_(size) {}

void Flatbuffer::stream(const std::function<void(std::span<const uint8_t>)>& sink) {
  uint64_t pos = 0;
  // Emits the file up to `end`: the flatbuffer's own bytes, then zero padding.
  auto fill_to = [&](uint64_t end) {
    if (pos < head_.size() && pos < end) {
      uint64_t n = std::min<uint64_t>(end, head_.size()) - pos;
      sink(head_.subspan(pos, n));
      pos += n;
    }
    for (; pos < end;) {
      uint64_t n = std::min<uint64_t>(end - pos, kZeroChunk);
      sink(std::span<const uint8_t>(kZeros, n));
      pos += n;
    }
  };
  for (Placed& c : constants_) {
    PT2_CHECK(pos <= c.offset && c.offset + c.data.bytes().size() <= size_, "constant at " << c.offset << " overlaps");
    fill_to(c.offset);
    sink(c.data.bytes());
    pos += c.data.bytes().size();
    c.data.drop_pages();
    c.data = ir::ConstData();  // frees a pass's result once the module is gone
  }
  fill_to(size_);
  storage_.reset();
  head_ = {};
  constants_.clear();
}

Flatbuffer::Bytes Flatbuffer::materialize() {
  std::shared_ptr<void> storage = storage_;
  std::span<uint8_t> file = head_;
  if (size_ != head_.size()) {  // external buffers: the constants go after the flatbuffer
    auto whole = std::make_shared<std::vector<uint8_t>>(size_, 0);
    std::memcpy(whole->data(), head_.data(), head_.size());
    file = {whole->data(), whole->size()};
    storage = std::move(whole);
  }
  for (Placed& c : constants_) {
    std::span<const uint8_t> b = c.data.bytes();
    PT2_CHECK(c.offset + b.size() <= file.size(), "constant at " << c.offset << " runs past the file end");
    if (!b.empty()) std::memcpy(file.data() + c.offset, b.data(), b.size());
    c.data.drop_pages();
    c.data = ir::ConstData();
  }
  storage_.reset();
  head_ = {};
  constants_.clear();
  return Bytes{std::move(storage), file};
}

Flatbuffer write_model(const ir::Module& module, bool external_buffers) {
  return ModelWriter(module, external_buffers || constant_bytes(module) > kMaxInlineConstantBytes).run();
}

}  // namespace pt2tflite::tflite_writer
