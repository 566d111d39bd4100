// JSON parser choice: nlohmann-json (Debian nlohmann-json3-dev). Measured on torchvision
// efficientnet_b0 (1.0 MB models/model.json): parsing plus building the IR takes 19 ms of the
// 105 ms `pt2tflite convert`. simdjson could save at most part of those 19 ms; nlohmann gives
// a DOM with exact int64 values (slice ends are INT64_MAX) and no extra dependency in the wheel.
#include "archive/pt2_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "archive/op_defaults.h"
#include "util/check.h"

namespace pt2tflite::archive {
namespace {

using json = nlohmann::json;
using ir::Attr;
using ir::DType;
using ir::Value;

constexpr int kSupportedSchemaMajors[] = {8, 9};

// Ops whose size argument only restates their output's shape, which their lowering reads instead
// (with its dynamic dims). A symbolic size argument there is kept as its example sizes; anywhere
// else it is refused, so no rule ever reads an example size as if it were the size.
bool sizes_restate_output(std::string_view op) {
  return op == "aten.view.default" || op == "aten._unsafe_view.default" || op == "aten.reshape.default" ||
         op == "aten.expand.default";
}

[[noreturn]] void bad(const std::string& why) { throw ConversionError(why); }

// A serialized union is an object with exactly one key: returns that key and its value.
std::pair<std::string, const json&> only_entry(const json& j) {
  if (!j.is_object() || j.size() != 1) bad("models/model.json: expected a one-key union object, got " + j.dump().substr(0, 80));
  return {j.begin().key(), j.begin().value()};
}

std::string_view as_text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A parsed payload config entry (data/weights/model_weights_config.json and the constants one).
struct Payload {
  std::string path_name;
  bool use_pickle = false;
  json tensor_meta;
};

class Importer {
 public:
  explicit Importer(const ZipArchive& zip) : zip_(zip) {}

  ImportResult run() {
    find_root();
    check_archive_kind();
    json ep = parse_json("models/model.json");
    check_versions(ep);
    weights_ = read_payload_config("data/weights/model_weights_config.json");
    constants_ = read_payload_config("data/constants/model_constants_config.json");
    auto graph = std::make_unique<ir::Graph>();
    graph_ = graph.get();
    const json& gm = ep.at("graph_module");
    const json& g = gm.at("graph");
    declare_values(g);
    collect_buffer_mutations(gm.at("signature").at("output_specs"));
    bind_inputs(gm.at("signature").at("input_specs"));
    for (const json& n : g.at("nodes")) import_node(n);
    classify_mutated_buffers();
    bind_outputs(gm.at("signature").at("output_specs"));
    result_.module.subgraphs.push_back(std::move(graph));
    result_.module.signatures.push_back(signature_);
    return std::move(result_);
  }

 private:
  void find_root() {
    if (zip_.entries().empty()) bad("not a PT2 archive: the zip file is empty");
    const std::string& first = zip_.entries().front().name;
    size_t slash = first.find('/');
    root_ = slash == std::string::npos ? "" : first.substr(0, slash + 1);
  }

  const ZipEntry* entry(std::string_view rel) const { return zip_.find(root_ + std::string(rel)); }

  void check_archive_kind() {
    if (entry("serialized_exported_program.json"))
      bad("this archive was written by torch.export.save from PyTorch <= 2.7, whose weights are "
          "pickled; re-save it with PyTorch >= 2.9");
    if (!entry("models/model.json")) {
      if (entry("data/weights/model.pt"))
        bad("this archive stores its weights pickled (data/weights/model.pt, PyTorch 2.8); "
            "re-save it with PyTorch >= 2.9, which writes raw weight payloads");
      bad("not a PT2 archive: it has no models/model.json (is it a torch.export.save file?)");
    }
    if (const ZipEntry* e = entry("archive_format"); e && as_text(zip_.data(*e)) != "pt2")
      bad("not a PT2 archive: archive_format is '" + std::string(as_text(zip_.data(*e))) + "'");
    if (const ZipEntry* e = entry("byteorder"); e && as_text(zip_.data(*e)) != "little")
      bad("the archive was written on a big-endian machine; only little-endian archives are supported");
  }

  json parse_json(std::string_view rel) {
    const ZipEntry* e = entry(rel);
    if (!e) bad("the archive has no entry '" + root_ + std::string(rel) + "'");
    auto bytes = zip_.data(*e);
    json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) bad("'" + root_ + std::string(rel) + "' is not valid JSON");
    return j;
  }

  void check_versions(const json& ep) {
    int major = -1, minor = -1;
    if (auto it = ep.find("schema_version"); it != ep.end() && it->is_object()) {
      major = it->value("major", -1);
      minor = it->value("minor", -1);
    }
    bool known = std::find(std::begin(kSupportedSchemaMajors), std::end(kSupportedSchemaMajors),
                           major) != std::end(kSupportedSchemaMajors);
    if (!known)
      bad("unsupported torch.export schema version " + std::to_string(major) + "." +
          std::to_string(minor) + " (supported major versions: 8, 9)");
    if (auto it = ep.find("verifiers"); it != ep.end() && it->is_array())
      for (const json& v : *it)
        if (v.is_string() && v.get<std::string>() == "TRAINING")
          bad("the archive holds a training-IR graph (torch.export.export output); call "
              "ep.run_decompositions() before torch.export.save, or use pt2tflite.convert(), "
              "which does it for you");
  }

  std::unordered_map<std::string, Payload> read_payload_config(std::string_view rel) {
    std::unordered_map<std::string, Payload> out;
    if (!entry(rel)) return out;  // a model without constants has no constants config
    json cfg = parse_json(rel);
    for (const auto& [fqn, p] : cfg.at("config").items()) {
      Payload pl;
      pl.path_name = p.at("path_name").get<std::string>();
      pl.use_pickle = p.value("use_pickle", false);
      pl.tensor_meta = p.at("tensor_meta");
      out.emplace(fqn, std::move(pl));
    }
    return out;
  }

  static ir::Dim dim_of(const json& s) {
    if (auto it = s.find("as_int"); it != s.end()) return ir::Dim{it->get<int64_t>(), {}};
    const json& e = s.at("as_expr");
    int64_t hint = 1;
    if (auto h = e.find("hint"); h != e.end() && h->is_object() && h->contains("as_int"))
      hint = h->at("as_int").get<int64_t>();
    return ir::Dim{hint, e.at("expr_str").get<std::string>()};
  }

  static std::optional<DType> dtype_of(const json& meta) {
    return ir::dtype_from_torch_scalar_type(meta.at("dtype").get<int64_t>());
  }

  void declare_values(const json& g) {
    for (const auto& [name, meta] : g.at("tensor_values").items()) {
      ir::Shape shape;
      for (const json& s : meta.at("sizes")) shape.push_back(dim_of(s));
      auto dt = dtype_of(meta);
      // Unsupported dtypes (complex, fp8) only matter if a node we lower uses them.
      Value* v = graph_->add_value(name, dt.value_or(DType::kFloat32), std::move(shape));
      if (!dt) bad_dtype_.insert({v, meta.at("dtype").get<int64_t>()});
      values_.emplace(name, v);
    }
  }

  Value* value(const std::string& name) {
    auto it = values_.find(name);
    if (it == values_.end()) bad("models/model.json refers to tensor '" + name + "', which it does not declare");
    return it->second;
  }

  void load_constant(Value* v, const std::string& fqn, const std::unordered_map<std::string, Payload>& cfg,
                     const char* dir) {
    auto it = cfg.find(fqn);
    if (it == cfg.end())
      bad("the archive has no payload for '" + fqn + "' (missing from " + dir + " config)");
    const Payload& p = it->second;
    if (p.use_pickle)
      bad("'" + fqn + "' is stored pickled (a tensor subclass or custom object, e.g. torchao "
          "quantize_ weights); pt2tflite reads plain tensors only. Quantize with the PT2E flow "
          "(pt2tflite.quantize) instead");
    auto dt = dtype_of(p.tensor_meta);
    if (!dt) bad("'" + fqn + "' has an unsupported dtype code " + p.tensor_meta.at("dtype").dump());
    const ZipEntry* e = entry(std::string(dir) + "/" + p.path_name);
    if (!e) bad("the archive has no entry '" + root_ + dir + "/" + p.path_name + "' for '" + fqn + "'");
    std::vector<int64_t> sizes, strides;
    for (const json& s : p.tensor_meta.at("sizes")) sizes.push_back(dim_of(s).size);
    for (const json& s : p.tensor_meta.at("strides")) strides.push_back(dim_of(s).size);
    int64_t offset = dim_of(p.tensor_meta.at("storage_offset")).size;
    size_t esize = ir::dtype_size(*dt);
    auto storage = zip_.data(*e);
    int64_t numel = 1, max_index = offset;
    for (size_t i = 0; i < sizes.size(); ++i) {
      numel *= sizes[i];
      if (sizes[i] > 0) max_index += (sizes[i] - 1) * strides.at(i);
    }
    v->dtype = *dt;
    v->shape = ir::static_shape(sizes);
    if (numel == 0) {
      v->data = ir::ConstData::own({});
      return;
    }
    if (storage.empty()) {  // fake/empty storage means zeros of `sizes`
      v->data = ir::ConstData::own(std::vector<uint8_t>(numel * esize, 0));
      return;
    }
    if (offset < 0 || static_cast<uint64_t>(max_index + 1) * esize > storage.size())
      bad("the payload of '" + fqn + "' is out of range: it needs " + std::to_string((max_index + 1) * esize) +
          " bytes but '" + e->name + "' has " + std::to_string(storage.size()));
    bool contiguous = true;
    for (int64_t i = static_cast<int64_t>(sizes.size()) - 1, expect = 1; i >= 0; --i) {
      if (sizes[i] != 1 && strides[i] != expect) contiguous = false;
      expect *= sizes[i];
    }
    if (contiguous) {
      // Zero-copy: the value borrows the mapped archive bytes.
      v->data = ir::ConstData::borrow(zip_.owner(), storage.subspan(offset * esize, numel * esize), zip_.file_mapped());
      return;
    }
    // Strided (e.g. channels-last or a view of a tied weight): gather into row-major order.
    std::vector<uint8_t> out(numel * esize);
    std::vector<int64_t> idx(sizes.size(), 0);
    for (int64_t n = 0; n < numel; ++n) {
      int64_t src = offset;
      for (size_t d = 0; d < sizes.size(); ++d) src += idx[d] * strides[d];
      std::memcpy(out.data() + n * esize, storage.data() + src * esize, esize);
      for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
        if (++idx[d] < sizes[d]) break;
        idx[d] = 0;
      }
    }
    v->data = ir::ConstData::own(std::move(out));
  }

  void bind_inputs(const json& specs) {
    for (const json& spec : specs) {
      const auto [kind, body] = only_entry(spec);
      if (kind == "user_input") {
        const json& arg = body.at("arg");
        if (!arg.contains("as_tensor"))
          bad("a non-tensor model input (" + arg.begin().key() + ") is not supported; pass tensors only");
        Value* v = value(arg.at("as_tensor").at("name").get<std::string>());
        graph_->inputs.push_back(v);
        signature_.input_names.push_back(v->name);
      } else if (kind == "parameter") {
        load_constant(value(body.at("arg").at("name")), body.at("parameter_name"), weights_, "data/weights");
      } else if (kind == "buffer") {
        bool persistent = body.value("persistent", true);
        if (auto it = mutated_.find(body.at("buffer_name").get<std::string>()); it != mutated_.end()) {
          // Loaded or made a state input once its uses are known (classify_mutated_buffers).
          it->second.input = value(body.at("arg").at("name"));
          it->second.persistent = persistent;
          continue;
        }
        load_constant(value(body.at("arg").at("name")), body.at("buffer_name"),
                      persistent ? weights_ : constants_, persistent ? "data/weights" : "data/constants");
      } else if (kind == "tensor_constant") {
        load_constant(value(body.at("arg").at("name")), body.at("tensor_constant_name"), constants_,
                      "data/constants");
      } else if (kind == "custom_obj") {
        bad("the model holds a TorchBind custom object ('" + body.value("custom_obj_name", std::string()) +
            "'), which cannot be converted");
      } else if (kind == "token") {
        bad("the model has side-effect tokens (effectful ops such as prints or custom ops with "
            "side effects); remove them before export");
      } else if (kind == "constant_input") {
        bad("constant (non-tensor) model inputs are not supported; bake them into the module");
      } else {
        bad("unknown graph input kind '" + kind + "'");
      }
    }
  }

  void bind_outputs(const json& specs) {
    int i = 0;
    for (const json& spec : specs) {
      const auto [kind, body] = only_entry(spec);
      if (kind == "user_output") {
        const json& arg = body.at("arg");
        if (!arg.contains("as_tensor"))
          bad("a non-tensor model output (" + arg.begin().key() + ") is not supported");
        graph_->outputs.push_back(value(arg.at("as_tensor").at("name")));
        signature_.output_names.push_back("output_" + std::to_string(i++));
      } else if (kind == "buffer_mutation") {
        const MutatedBuffer& m = mutated_.at(body.at("buffer_name").get<std::string>());
        if (m.is_state) state_outputs_.push_back({value(body.at("arg").at("name")), m.state_name});
      } else if (kind == "user_input_mutation" || kind == "parameter_mutation") {
        bad("the model mutates state in forward (" + kind + "); TFLite models are stateless here. "
            "Remove in-place buffer updates (e.g. BatchNorm in training mode: call model.eval())");
      } else {
        bad("unsupported graph output kind '" + kind + "' (is the model in training mode?)");
      }
    }
    // The new state after the user outputs, named like the state inputs: the runtime binds an
    // input and the output of the same name to one buffer.
    for (const auto& [v, name] : state_outputs_) {
      graph_->outputs.push_back(v);
      signature_.output_names.push_back(name);
    }
  }

  // --- Mutated buffers (model state such as a KV cache) -------------------------------------
  //
  // torch.export returns a buffer's new value as a `buffer_mutation` output. Two kinds are taken:
  //  - derived: every read of the old value is the `self` of aten.copy (it is overwritten from
  //    the inputs before use, like Hugging Face's cumulative_length); the old value never matters,
  //    so the buffer stays a constant and its new value is dropped;
  //  - state: the old value is read only by one block write (index_put / index_copy), which the
  //    lowering turns into DYNAMIC_UPDATE_SLICE. The buffer becomes an input and its new value an
  //    output with the same name. Nothing else may read the old value: LiteRT-LM binds the input
  //    and the output to one buffer, so a later read would see the new rows.
  // Any other mutation is refused.

  struct MutatedBuffer {
    Value* input = nullptr;
    bool persistent = true;
    bool is_state = false;
    std::string state_name;
  };

  void collect_buffer_mutations(const json& specs) {
    for (const json& spec : specs) {
      const auto [kind, body] = only_entry(spec);
      if (kind == "buffer_mutation") mutated_.emplace(body.at("buffer_name").get<std::string>(), MutatedBuffer{});
    }
  }

  static bool is_block_write_of(const ir::Node& n, const Value* v) {
    if (n.op != "aten.index_put.default" && n.op != "aten.index_copy.default") return false;
    return n.get_tensor("self") == v;
  }

  [[noreturn]] void bad_state(const std::string& fqn, const ir::Node* n, const std::string& why) {
    std::vector<Diagnostic> d{Diagnostic{n ? n->op : "buffer_mutation", n ? n->name : fqn,
                                         n ? n->source.module_path : "", n ? n->source.location : "",
                                         "buffer '" + fqn + "' " + why}};
    throw ConversionError(std::move(d));
  }

  void classify_mutated_buffers() {
    std::vector<std::pair<std::string, MutatedBuffer*>> ordered;  // in input order: deterministic
    for (auto& [fqn, m] : mutated_) {
      if (!m.input) bad("models/model.json mutates buffer '" + fqn + "', which is not a graph input");
      ordered.emplace_back(fqn, &m);
    }
    std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.second->input->id < b.second->input->id; });
    for (auto& [fqn, m] : ordered) {
      const std::vector<ir::Node*> users = graph_->users(m->input);
      const bool derived = std::all_of(users.begin(), users.end(), [&](const ir::Node* n) {
        return n->op == "aten.copy.default" && n->get_tensor("self") == m->input && n->get_tensor("src") != m->input;
      });
      if (derived) {
        load_constant(m->input, fqn, m->persistent ? weights_ : constants_, m->persistent ? "data/weights" : "data/constants");
        continue;
      }
      if (users.size() != 1 || !is_block_write_of(*users[0], m->input)) {
        for (const ir::Node* n : users)
          if (!is_block_write_of(*n, m->input))
            bad_state(fqn, n,
                      users.size() > 1 && std::any_of(users.begin(), users.end(), [&](const ir::Node* u) { return is_block_write_of(*u, m->input); })
                          ? "is read here besides the block write that updates it; read the updated value instead "
                            "(the runtime binds a state's input and output to one buffer, so the old value is gone)"
                          : "is mutated in a way other than a block write of consecutive rows (index_copy_ / "
                            "index_put_ at arange(T) + start); only such KV-cache updates are supported");
        bad_state(fqn, nullptr, "is read by several block writes; update it once per call");
      }
      m->is_state = true;
      m->state_name = state_name(fqn);
      m->input->name = m->state_name;
      graph_->inputs.push_back(m->input);
      signature_.input_names.push_back(m->state_name);
    }
  }

  // The I/O name of a state buffer: its FQN with '.' as '_' (e.g. "layers_0_k_cache").
  static std::string state_name(std::string fqn) {
    std::replace(fqn.begin(), fqn.end(), '.', '_');
    return fqn;
  }

  static double float_of(const json& f) {
    if (f.is_string()) {
      std::string s = f.get<std::string>();
      if (s == "Infinity") return std::numeric_limits<double>::infinity();
      if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
      if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
      bad("bad float literal '" + s + "' in models/model.json");
    }
    return f.get<double>();
  }

  // Converts one serialized Argument; returns false (and a reason) for kinds we do not model.
  bool to_attr(const json& arg, Attr& out, std::string& why, std::string_view op) {
    const auto [kind, v] = only_entry(arg);
    if (kind == "as_none") out = std::monostate{};
    else if (kind == "as_tensor") out = value(v.at("name"));
    else if (kind == "as_tensors") {
      std::vector<Value*> vs;
      for (const json& t : v) vs.push_back(value(t.at("name")));
      out = std::move(vs);
    } else if (kind == "as_optional_tensors") {
      std::vector<Value*> vs;
      for (const json& t : v) vs.push_back(t.contains("as_tensor") ? value(t.at("as_tensor").at("name")) : nullptr);
      out = std::move(vs);
    } else if (kind == "as_optional_tensor") {
      out = v.contains("as_tensor") ? Attr(value(v.at("as_tensor").at("name"))) : Attr(std::monostate{});
    } else if (kind == "as_int" || kind == "as_scalar_type" || kind == "as_memory_format" || kind == "as_layout")
      out = v.get<int64_t>();
    else if (kind == "as_float") out = float_of(v);
    else if (kind == "as_bool") out = v.get<bool>();
    else if (kind == "as_string") out = v.get<std::string>();
    else if (kind == "as_ints") out = v.get<std::vector<int64_t>>();
    else if (kind == "as_floats") {
      std::vector<double> fs;
      for (const json& f : v) fs.push_back(float_of(f));
      out = std::move(fs);
    } else if (kind == "as_bools") out = v.get<std::vector<bool>>();
    else if (kind == "as_device") out = v.at("type").get<std::string>();
    else if (kind == "as_sym_int") {
      if (!v.contains("as_int")) {
        // No rule computes sizes at run time yet; refusing here keeps every rule from ever
        // meeting a symbolic integer where it expects a number.
        why = "an argument is a size known only at run time (a dynamic dimension); this is not supported yet";
        return false;
      }
      out = v.at("as_int").get<int64_t>();
    } else if (kind == "as_sym_ints") {
      std::vector<int64_t> ints;
      for (const json& s : v) {
        if (!s.contains("as_int") && sizes_restate_output(op)) {
          ints.push_back(-1);  // the lowering takes this size from the output's shape
          continue;
        }
        if (!s.contains("as_int")) {
          why = "a shape argument depends on a dynamic dimension; dynamic shapes are not supported yet";
          return false;
        }
        ints.push_back(s.at("as_int").get<int64_t>());
      }
      out = std::move(ints);
    } else {
      why = "argument kind '" + kind + "' (control flow or symbolic values) is not supported";
      return false;
    }
    return true;
  }

  void import_node(const json& n) {
    auto node = std::make_unique<ir::Node>();
    std::string target = n.at("target").get<std::string>();
    constexpr std::string_view kPrefix = "torch.ops.";
    node->op = target.rfind(kPrefix, 0) == 0 ? target.substr(kPrefix.size()) : target;
    const json& md = n.value("metadata", json::object());
    node->source = source_info_from_metadata(md.value("nn_module_stack", ""), md.value("stack_trace", ""));
    for (const json& out : n.at("outputs")) {
      const auto [kind, v] = only_entry(out);
      if (kind == "as_tensor") {
        std::string name = v.at("name");
        auto it = values_.find(name);
        node->outputs.push_back(it == values_.end() ? nullptr : it->second);
      } else if (kind == "as_tensors") {
        for (const json& t : v) {
          auto it = values_.find(t.at("name").get<std::string>());
          node->outputs.push_back(it == values_.end() ? nullptr : it->second);
        }
      } else {
        node->outputs.push_back(nullptr);  // symbolic ints and None outputs
      }
    }
    if (n.contains("name") && n.at("name").is_string()) node->name = n.at("name");
    else if (!node->outputs.empty() && node->outputs[0]) node->name = node->outputs[0]->name;
    else node->name = graph_->unique_name("node");
    for (const json& a : n.at("inputs")) {
      Attr attr;
      std::string why;
      if (!to_attr(a.at("arg"), attr, why, node->op)) {
        result_.diagnostics.push_back(Diagnostic{node->op, node->name, node->source.module_path,
                                                 node->source.location, why});
        attr = std::monostate{};
      }
      node->args.emplace_back(a.at("name").get<std::string>(), std::move(attr));
    }
    for (const auto& [name, def] : op_defaults(node->op))
      if (!node->find(name)) node->args.emplace_back(std::string(name), def);
    for (Value* v : node->operands())
      if (auto it = bad_dtype_.find(v); it != bad_dtype_.end())
        result_.diagnostics.push_back(Diagnostic{node->op, node->name, node->source.module_path,
                                                 node->source.location,
                                                 "tensor '" + v->name + "' has an unsupported dtype (torch ScalarType " +
                                                     std::to_string(it->second) + ")"});
    graph_->insert_node(nullptr, std::move(node));
  }

  const ZipArchive& zip_;
  std::string root_;
  std::unordered_map<std::string, Payload> weights_, constants_;
  std::unordered_map<std::string, Value*> values_;
  std::unordered_map<const Value*, int64_t> bad_dtype_;
  ir::Graph* graph_ = nullptr;
  ir::Signature signature_;
  std::unordered_map<std::string, MutatedBuffer> mutated_;  // by buffer FQN
  std::vector<std::pair<Value*, std::string>> state_outputs_;
  ImportResult result_;
};

}  // namespace

ir::SourceInfo source_info_from_metadata(const std::string& nn_module_stack, const std::string& stack_trace) {
  ir::SourceInfo info;
  // nn_module_stack: "key,orig_path,type_str" entries joined by ';' — the innermost module is last.
  if (!nn_module_stack.empty()) {
    std::string last = nn_module_stack.substr(nn_module_stack.rfind(';') == std::string::npos
                                                  ? 0
                                                  : nn_module_stack.rfind(';') + 1);
    size_t c1 = last.find(','), c2 = last.rfind(',');
    if (c1 != std::string::npos && c2 != std::string::npos && c2 > c1) {
      info.module_path = last.substr(c1 + 1, c2 - c1 - 1);
      info.module_type = last.substr(c2 + 1);
    }
  }
  // stack_trace: Python frames 'File "f", line N, in fn'. The user's line is the innermost frame
  // outside torch itself (torch.nn modules call F.* for the user).
  std::string fallback;
  for (size_t pos = 0; (pos = stack_trace.find("File \"", pos)) != std::string::npos;) {
    size_t fstart = pos + 6, fend = stack_trace.find('"', fstart);
    if (fend == std::string::npos) break;
    size_t lpos = stack_trace.find("line ", fend);
    if (lpos == std::string::npos) break;
    size_t lend = stack_trace.find_first_not_of("0123456789", lpos + 5);
    std::string file = stack_trace.substr(fstart, fend - fstart);
    std::string loc = file + ":" + stack_trace.substr(lpos + 5, lend - lpos - 5);
    fallback = loc;
    if (file.find("/torch/") == std::string::npos) info.location = loc;
    pos = fend;
  }
  if (info.location.empty()) info.location = fallback;
  return info;
}

ImportResult read_pt2(const ZipArchive& zip) {
  try {
    return Importer(zip).run();
  } catch (const nlohmann::json::exception& e) {
    throw ConversionError(std::string("models/model.json does not match the torch.export schema: ") + e.what());
  }
}

}  // namespace pt2tflite::archive
