// JSON parser choice: nlohmann-json (Debian nlohmann-json3-dev). Measured on torchvision
// efficientnet_b0 (1.0 MB models/model.json): parsing plus building the IR takes 19 ms of the
// 105 ms `pt2tflite convert`. simdjson could save at most part of those 19 ms; nlohmann gives
// a DOM with exact int64 values (slice ends are INT64_MAX) and no extra dependency in the wheel.
#include "archive/pt2_reader.h"

//
// This file is the validation boundary (DESIGN.md principle 9): everything taken from the archive
// is checked here, in checked 64-bit arithmetic, before any other stage sees it. Past read_pt2,
// lowering and passes may assume a well-formed graph: every tensor declared once with a dtype
// and dims in range, every node's arguments of its schema's kinds (op_schema.h), every operand
// produced by exactly one earlier node (or an input or constant), constants inside their entries.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "archive/constant_payload.h"
#include "archive/json_checks.h"
#include "archive/op_schema.h"
#include "archive/shape_rules.h"

namespace pt2tflite::archive {
namespace {

using ir::Attr;
using ir::DType;
using ir::Value;

constexpr int kSupportedSchemaMajors[] = {8, 9};
const Where kModel("models/model.json");

[[noreturn]] void bad(const std::string& why) { throw ConversionError(why); }

std::string_view as_text(std::span<const uint8_t> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// A parsed payload config entry (data/weights/model_weights_config.json and the constants one).
struct Payload {
  std::string path_name;
  bool use_pickle = false;
  json tensor_meta;
  Where at;
};

class Importer {
 public:
  explicit Importer(const ZipArchive& zip) : zip_(zip) {}

  ImportResult run() {
    find_root();
    check_archive_kind();
    json ep = parse_entry("models/model.json");
    object_at(ep, kModel);
    check_versions(ep);
    weights_ = read_payload_config("data/weights/model_weights_config.json");
    constants_ = read_payload_config("data/constants/model_constants_config.json");
    auto graph = std::make_unique<ir::Graph>();
    graph_ = graph.get();
    const Where gm_at = kModel.key("graph_module");
    const json& gm = field(ep, "graph_module", kModel);
    const json& g = field(gm, "graph", gm_at);
    const Where g_at = gm_at.key("graph");
    declare_values(g, g_at);
    declare_sym_ints(g, g_at);
    const json& sig = field(gm, "signature", gm_at);
    collect_buffer_mutations(field(sig, "output_specs", gm_at.key("signature")), gm_at.key("signature.output_specs"));
    bind_inputs(field(sig, "input_specs", gm_at.key("signature")), gm_at.key("signature.input_specs"));
    const json& nodes = array_at(field(g, "nodes", g_at), g_at.key("nodes"));
    if (nodes.size() > kMaxNodes) g_at.key("nodes").fail("more than " + std::to_string(kMaxNodes) + " nodes");
    for (size_t i = 0; i < nodes.size(); ++i) import_node(nodes[i], g_at.key("nodes").index(i));
    classify_mutated_buffers();
    bind_outputs(field(sig, "output_specs", gm_at.key("signature")), gm_at.key("signature.output_specs"));
    if (graph_->outputs.empty()) bad("the model returns no tensor (every output is None)");
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
      bad("not a PT2 archive: archive_format is " + quote(as_text(zip_.data(*e))));
    if (const ZipEntry* e = entry("byteorder"); e && as_text(zip_.data(*e)) != "little")
      bad("the archive was written on a big-endian machine; only little-endian archives are supported");
  }

  json parse_entry(std::string_view rel) {
    const ZipEntry* e = entry(rel);
    if (!e) bad("the archive has no entry " + quote(root_ + std::string(rel)));
    return parse_checked(zip_.data(*e), std::string(rel));
  }

  void check_versions(const json& ep) {
    int64_t major = -1, minor = -1;
    if (const json* v = optional_field(ep, "schema_version"); v && v->is_object()) {
      if (const json* m = optional_field(*v, "major"); m && m->is_number_integer()) major = int_of(*m, kModel);
      if (const json* m = optional_field(*v, "minor"); m && m->is_number_integer()) minor = int_of(*m, kModel);
    }
    bool known = std::find(std::begin(kSupportedSchemaMajors), std::end(kSupportedSchemaMajors), major) !=
                 std::end(kSupportedSchemaMajors);
    if (!known)
      bad("unsupported torch.export schema version " + std::to_string(major) + "." + std::to_string(minor) +
          " (supported major versions: 8, 9)");
    if (const json* v = optional_field(ep, "verifiers"); v && v->is_array())
      for (const json& x : *v)
        if (x.is_string() && x.get_ref<const std::string&>() == "TRAINING")
          bad("the archive holds a training-IR graph (torch.export.export output); call "
              "ep.run_decompositions() before torch.export.save, or use pt2tflite.convert(), "
              "which does it for you");
  }

  std::unordered_map<std::string, Payload> read_payload_config(std::string_view rel) {
    std::unordered_map<std::string, Payload> out;
    if (!entry(rel)) return out;  // a model without constants has no constants config
    json cfg = parse_entry(rel);
    const Where at = Where(std::string(rel)).key("config");
    const json& config =
        object_at(field(object_at(cfg, Where(std::string(rel))), "config", Where(std::string(rel))), at);
    for (const auto& [fqn, p] : config.items()) {
      Where pat = at.key(fqn);
      Payload pl{string_of(field(p, "path_name", pat), pat.key("path_name")), false, json(), pat};
      if (const json* u = optional_field(p, "use_pickle")) pl.use_pickle = bool_of(*u, pat.key("use_pickle"));
      pl.tensor_meta = object_at(field(p, "tensor_meta", pat), pat.key("tensor_meta"));
      out.emplace(fqn, std::move(pl));
    }
    return out;
  }

  // One dim of a tensor_values entry: static (0 <= size <= kMaxDim), or symbolic with a name and a
  // hint in 1..kMaxDim (the hint stands in for the size wherever one is needed). A size of 0 is
  // legal only on tensors nothing reads (torch declares the unused outputs of batch norm so);
  // import_node refuses it anywhere else.
  static ir::Dim dim_of(const json& s, const Where& at) {
    if (const json* i = optional_field(s, "as_int")) {
      int64_t v = int_of(*i, at);
      if (v < 0 || v > kMaxDim)
        at.fail("dim " + std::to_string(v) + " is out of range (0.." + std::to_string(kMaxDim) + ")");
      return ir::Dim{v, {}};
    }
    const json& e = object_at(field(s, "as_expr", at), at);
    int64_t hint = 1;
    if (const json* h = optional_field(e, "hint"); h && h->is_object())
      if (const json* hi = optional_field(*h, "as_int")) hint = int_of(*hi, at.key("hint"));
    if (hint < 1 || hint > kMaxDim)
      at.key("hint").fail("symbolic dim hint " + std::to_string(hint) + " is out of range");
    std::string expr = string_of(field(e, "expr_str", at), at.key("expr_str"), 256);
    if (expr.empty()) at.key("expr_str").fail("empty symbolic dim name");
    return ir::Dim{hint, std::move(expr)};
  }

  void declare_values(const json& g, const Where& g_at) {
    const Where at = g_at.key("tensor_values");
    for (const auto& [name, meta] : object_at(field(g, "tensor_values", g_at), at).items()) {
      const Where vat = at.key(name);
      if (name.size() > kMaxNameLength) vat.fail("tensor name of " + std::to_string(name.size()) + " chars");
      object_at(meta, vat);
      const json& sizes = array_at(field(meta, "sizes", vat), vat.key("sizes"));
      if (sizes.size() > static_cast<size_t>(kMaxRank))
        vat.key("sizes").fail("rank " + std::to_string(sizes.size()) + " is above " + std::to_string(kMaxRank));
      ir::Shape shape;
      uint64_t numel = 1;
      for (size_t i = 0; i < sizes.size(); ++i) {
        shape.push_back(dim_of(sizes[i], vat.key("sizes").index(i)));
        if (__builtin_mul_overflow(numel, static_cast<uint64_t>(shape.back().size), &numel) || numel > kMaxTensorBytes)
          vat.key("sizes").fail("the tensor has too many elements");
      }
      int64_t code = int_of(field(meta, "dtype", vat), vat.key("dtype"));
      auto dt = ir::dtype_from_torch_scalar_type(code);
      if (dt && numel * ir::dtype_size(*dt) > kMaxTensorBytes) vat.key("sizes").fail("the tensor has too many bytes");
      // Unsupported dtypes (complex, fp8) only matter if a node we lower uses them.
      Value* v = graph_->add_value(name, dt.value_or(DType::kFloat32), std::move(shape));
      if (!dt) bad_dtype_.insert({v, code});
      values_.emplace(name, v);
    }
  }

  // graph.sym_int_values: the symbol (its expr_str, as tensor dims spell it) of each symbolic
  // integer a node produces. Only a scalar read from a tensor (`.item()`) becomes a value here.
  void declare_sym_ints(const json& g, const Where& g_at) {
    const json* syms = optional_field(g, "sym_int_values");
    if (!syms || syms->is_null()) return;
    const Where at = g_at.key("sym_int_values");
    for (const auto& [name, v] : object_at(*syms, at).items()) {
      const json* e = v.is_object() ? optional_field(v, "as_expr") : nullptr;
      const json* expr = e && e->is_object() ? optional_field(*e, "expr_str") : nullptr;
      if (expr && expr->is_string()) sym_exprs_[name] = string_of(*expr, at.key(name).key("as_expr.expr_str"), 256);
    }
  }

  Value* value(const json& name_json, const Where& at) {
    std::string name = string_of(name_json, at);
    auto it = values_.find(name);
    if (it == values_.end())
      at.fail("refers to tensor " + quote(name) + ", which graph.tensor_values does not declare");
    return it->second;
  }

  // The tensor named by {"name": ...} (parameter specs) or {"as_tensor": {"name": ...}}.
  Value* named(const json& arg, const Where& at) { return value(field(arg, "name", at), at.key("name")); }
  Value* as_tensor(const json& arg, const Where& at) {
    return named(object_at(field(arg, "as_tensor", at), at.key("as_tensor")), at.key("as_tensor"));
  }

  // A model input, parameter or constant: bound once.
  void bind_once(Value* v, const Where& at) {
    if (!bound_.insert(v).second) at.fail("tensor " + quote(v->name) + " is bound to more than one graph input");
  }

  void load_constant(Value* v, const std::string& fqn, const std::unordered_map<std::string, Payload>& cfg,
                     const char* dir, const Where& spec_at) {
    bind_once(v, spec_at);
    load_payload(v, fqn, cfg, dir, spec_at);
  }

  // Gives the bound input `v` the payload stored for `fqn`.
  void load_payload(Value* v, const std::string& fqn, const std::unordered_map<std::string, Payload>& cfg,
                    const char* dir, const Where& spec_at) {
    auto it = cfg.find(fqn);
    if (it == cfg.end())
      spec_at.fail("the archive has no payload for " + quote(fqn) + " (missing from the " + dir + " config)");
    const Payload& p = it->second;
    if (p.use_pickle)
      bad(quote(fqn) +
          " is stored pickled (a tensor subclass or custom object, e.g. torchao "
          "quantize_ weights); pt2tflite reads plain tensors only. Quantize with the PT2E flow "
          "(pt2tflite.quantize) instead");
    const Where meta_at = p.at.key("tensor_meta");
    PayloadLayout layout = payload_layout(p.tensor_meta, meta_at);
    // The payload must be what the graph declares: a mismatch would give LiteRT a tensor whose
    // buffer does not fit its shape or type.
    if (bad_dtype_.count(v) || layout.dtype != v->dtype)
      meta_at.key("dtype").fail("payload of " + quote(fqn) + " has another dtype than tensor " + quote(v->name));
    if (!ir::is_fully_static(v->shape) || ir::sizes_of(v->shape) != layout.sizes)
      meta_at.key("sizes").fail("payload of " + quote(fqn) + " has other sizes than tensor " + quote(v->name) +
                                " declares " + ir::shape_to_string(v->shape));
    const ZipEntry* e = entry(std::string(dir) + "/" + p.path_name);
    if (!e) p.at.key("path_name").fail("the archive has no entry " + quote(root_ + dir + "/" + p.path_name));
    v->data = payload_data(layout, zip_.data(*e), zip_.owner(), zip_.file_mapped(), synthesized_bytes_, meta_at);
  }

  // A tensor of a dtype the IR has no type for (complex, float8) stands in as float32 so that a node
  // reading it can be reported; at the model's boundary nothing would report it.
  void check_io_dtype(const Value* v, const char* what, const Where& at) const {
    if (auto it = bad_dtype_.find(v); it != bad_dtype_.end())
      at.fail(std::string(what) + " " + quote(v->name) + " has an unsupported dtype (torch ScalarType " +
              std::to_string(it->second) + ")");
  }

  void bind_inputs(const json& specs, const Where& at) {
    array_at(specs, at);
    for (size_t i = 0; i < specs.size(); ++i) {
      const Where sat = at.index(i);
      const auto [kind, body] = union_of(specs[i], sat);
      const Where bat = sat.key(kind);
      object_at(body, bat);
      if (kind == "user_input") {
        const json& arg = object_at(field(body, "arg", bat), bat.key("arg"));
        if (!arg.contains("as_tensor")) {
          std::string what = arg.empty() ? "empty" : quote(arg.begin().key());
          bat.key("arg").fail("a non-tensor model input (" + what + ") is not supported; pass tensors only");
        }
        Value* v = as_tensor(arg, bat.key("arg"));
        if (has_zero_dim(v)) bat.fail("model input " + quote(v->name) + " has a zero-size dim (not supported)");
        check_io_dtype(v, "model input", bat);
        bind_once(v, bat);
        graph_->inputs.push_back(v);
        signature_.input_names.push_back(v->name);
      } else if (kind == "parameter") {
        load_constant(named(field(body, "arg", bat), bat.key("arg")),
                      string_of(field(body, "parameter_name", bat), bat.key("parameter_name")), weights_,
                      "data/weights", bat);
      } else if (kind == "buffer") {
        bool persistent = true;
        if (const json* p = optional_field(body, "persistent")) persistent = bool_of(*p, bat.key("persistent"));
        Value* v = named(field(body, "arg", bat), bat.key("arg"));
        const std::string fqn = string_of(field(body, "buffer_name", bat), bat.key("buffer_name"));
        if (auto it = mutated_.find(fqn); it != mutated_.end()) {
          // Loaded or made a state input once its uses are known (classify_mutated_buffers).
          bind_once(v, bat);
          it->second.input = v;
          it->second.persistent = persistent;
          it->second.at = bat;
          continue;
        }
        load_constant(v, fqn, persistent ? weights_ : constants_, persistent ? "data/weights" : "data/constants", bat);
      } else if (kind == "tensor_constant") {
        load_constant(named(field(body, "arg", bat), bat.key("arg")),
                      string_of(field(body, "tensor_constant_name", bat), bat.key("tensor_constant_name")), constants_,
                      "data/constants", bat);
      } else if (kind == "custom_obj") {
        bad("the model holds a TorchBind custom object, which cannot be converted");
      } else if (kind == "token") {
        bad("the model has side-effect tokens (effectful ops such as prints or custom ops with "
            "side effects); remove them before export");
      } else if (kind == "constant_input") {
        bad("constant (non-tensor) model inputs are not supported; bake them into the module");
      } else {
        sat.fail("unknown graph input kind " + quote(kind));
      }
    }
  }

  void bind_outputs(const json& specs, const Where& at) {
    array_at(specs, at);
    for (size_t i = 0; i < specs.size(); ++i) {
      const Where sat = at.index(i);
      const auto [kind, body] = union_of(specs[i], sat);
      const Where bat = sat.key(kind);
      if (kind == "user_output") {
        const json& arg = object_at(field(object_at(body, bat), "arg", bat), bat.key("arg"));
        // A None output (e.g. an optional attention map) carries nothing: it is dropped, and the
        // outputs after it move up one place.
        if (arg.contains("as_none")) continue;
        if (!arg.contains("as_tensor")) {
          std::string what = arg.empty() ? "empty" : quote(arg.begin().key());
          bat.key("arg").fail("a non-tensor model output (" + what + ") is not supported; return tensors only");
        }
        Value* v = as_tensor(arg, bat.key("arg"));
        if (!available(v)) bat.key("arg").fail("output tensor " + quote(v->name) + " is not produced by any node");
        if (has_zero_dim(v)) bat.fail("model output " + quote(v->name) + " has a zero-size dim (not supported)");
        check_io_dtype(v, "model output", bat);
        graph_->outputs.push_back(v);
        signature_.output_names.push_back("output_" + std::to_string(graph_->outputs.size() - 1));
      } else if (kind == "buffer_mutation") {
        // Every buffer_mutation was collected from these specs before the inputs were bound.
        const MutatedBuffer& m = mutated_.at(string_of(field(body, "buffer_name", bat), bat.key("buffer_name")));
        if (!m.is_state) continue;
        Value* v = named(field(body, "arg", bat), bat.key("arg"));
        if (!available(v)) bat.key("arg").fail("state output " + quote(v->name) + " is not produced by any node");
        state_outputs_.push_back({v, m.state_name});
      } else if (kind == "user_input_mutation" || kind == "parameter_mutation") {
        bad("the model mutates state in forward (" + kind +
            "); TFLite models are stateless here. "
            "Remove in-place buffer updates (e.g. BatchNorm in training mode: call model.eval())");
      } else {
        sat.fail("unsupported graph output kind " + quote(kind) + " (is the model in training mode?)");
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
    Where at = kModel;  // its input spec
    bool is_state = false;
    std::string state_name;
  };

  void collect_buffer_mutations(const json& specs, const Where& at) {
    array_at(specs, at);
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto [kind, body] = union_of(specs[i], at.index(i));
      if (kind != "buffer_mutation") continue;
      const Where bat = at.index(i).key(kind);
      std::string fqn = string_of(field(body, "buffer_name", bat), bat.key("buffer_name"));
      if (!mutated_.emplace(std::move(fqn), MutatedBuffer{}).second) bat.fail("a buffer is mutated twice");
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
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return a.second->input->id < b.second->input->id; });
    for (auto& entry : ordered) {
      // Named copies, not a structured binding: clang 14 cannot capture those in the lambdas below.
      const std::string& fqn = entry.first;
      MutatedBuffer* m = entry.second;
      const std::vector<ir::Node*> users = graph_->users(m->input);
      const bool derived = std::all_of(users.begin(), users.end(), [&](const ir::Node* n) {
        return n->op == "aten.copy.default" && n->get_tensor("self") == m->input && n->get_tensor("src") != m->input;
      });
      if (derived) {
        load_payload(m->input, fqn, m->persistent ? weights_ : constants_,
                     m->persistent ? "data/weights" : "data/constants",
                     m->at);  // bound when its input spec was read
        continue;
      }
      if (users.size() != 1 || !is_block_write_of(*users[0], m->input)) {
        for (const ir::Node* n : users)
          if (!is_block_write_of(*n, m->input))
            bad_state(
                fqn, n,
                users.size() > 1 && std::any_of(users.begin(), users.end(),
                                                [&](const ir::Node* u) { return is_block_write_of(*u, m->input); })
                    ? "is read here besides the block write that updates it; read the updated value instead "
                      "(the runtime binds a state's input and output to one buffer, so the old value is gone)"
                    : "is mutated in a way other than a block write of consecutive rows (index_copy_ / "
                      "index_put_ at arange(T) + start); only such KV-cache updates are supported");
        bad_state(fqn, nullptr, "is read by several block writes; update it once per call");
      }
      m->is_state = true;
      m->state_name = state_name(fqn);
      m->input->name = m->state_name;
      m->input->is_state = true;
      graph_->inputs.push_back(m->input);
      signature_.input_names.push_back(m->state_name);
    }
  }

  // The I/O name of a state buffer: its FQN with '.' as '_' (e.g. "layers_0_k_cache").
  static std::string state_name(std::string fqn) {
    std::replace(fqn.begin(), fqn.end(), '.', '_');
    return fqn;
  }

  static bool produces_only_empty(const ir::Node& node) {
    if (node.outputs.empty()) return false;
    for (const Value* v : node.outputs)
      if (!v || !has_zero_dim(v)) return false;
    return true;
  }

  static bool has_zero_dim(const Value* v) {
    return std::any_of(v->shape.begin(), v->shape.end(), [](const ir::Dim& d) { return d.size == 0; });
  }

  // A tensor a node may read: a model input, a constant, or the output of an earlier node.
  bool available(const Value* v) const { return v->producer || v->is_const() || bound_.count(v); }

  // Converts one serialized Argument; returns false (and a reason) for kinds we do not model.
  bool to_attr(const json& arg, Attr& out, std::string& why, const Where& at, std::string_view op,
               std::string_view arg_name) {
    const auto [kind, v] = union_of(arg, at);
    const Where vat = at.key(kind);
    if (kind == "as_none")
      out = std::monostate{};
    else if (kind == "as_tensor")
      out = named(v, vat);
    else if (kind == "as_tensors") {
      std::vector<Value*> vs;
      array_at(v, vat);
      for (size_t i = 0; i < v.size(); ++i) vs.push_back(named(v[i], vat.index(i)));
      out = std::move(vs);
    } else if (kind == "as_optional_tensors") {
      std::vector<Value*> vs;
      array_at(v, vat);
      for (size_t i = 0; i < v.size(); ++i)
        vs.push_back(v[i].contains("as_tensor") ? as_tensor(v[i], vat.index(i)) : nullptr);
      out = std::move(vs);
    } else if (kind == "as_optional_tensor") {
      out = v.is_object() && v.contains("as_tensor") ? Attr(as_tensor(v, vat)) : Attr(std::monostate{});
    } else if (kind == "as_int" || kind == "as_scalar_type" || kind == "as_memory_format" || kind == "as_layout")
      out = int_of(v, vat);
    else if (kind == "as_float")
      out = float_of(v, vat);
    else if (kind == "as_bool")
      out = bool_of(v, vat);
    else if (kind == "as_string")
      out = string_of(v, vat);
    else if (kind == "as_ints") {
      std::vector<int64_t> ints;
      array_at(v, vat);
      for (size_t i = 0; i < v.size(); ++i) ints.push_back(int_of(v[i], vat.index(i)));
      out = std::move(ints);
    } else if (kind == "as_floats") {
      std::vector<double> fs;
      array_at(v, vat);
      for (size_t i = 0; i < v.size(); ++i) fs.push_back(float_of(v[i], vat.index(i)));
      out = std::move(fs);
    } else if (kind == "as_bools") {
      std::vector<bool> bs;
      array_at(v, vat);
      for (size_t i = 0; i < v.size(); ++i) bs.push_back(bool_of(v[i], vat.index(i)));
      out = std::move(bs);
    } else if (kind == "as_device")
      out = string_of(field(v, "type", vat), vat.key("type"));
    else if (kind == "as_sym_int") {
      if (const json* i = optional_field(v, "as_int")) {
        out = int_of(*i, vat);
      } else if (const json* name = optional_field(v, "as_name"); name && int_arg_restated_by_output(op, arg_name)) {
        out = ir::SymRef{string_of(*name, vat.key("as_name"), 256)};  // the lowering reads it from the output shape
      } else {
        // No rule computes sizes at run time yet; refusing here keeps every rule from ever
        // meeting a symbolic integer where it expects a number.
        why = "an argument is a size known only at run time (a dynamic dimension); this is not supported yet";
        return false;
      }
    } else if (kind == "as_sym_ints") {
      std::vector<int64_t> ints;
      array_at(v, vat);
      for (size_t i = 0; i < v.size(); ++i) {
        const json* s = optional_field(v[i], "as_int");
        if (!s && sizes_restate_output(op)) {
          ints.push_back(-1);  // the lowering takes this size from the output's shape
          continue;
        }
        if (!s) {
          why = "a shape argument depends on a dynamic dimension; dynamic shapes are not supported yet";
          return false;
        }
        ints.push_back(int_of(*s, vat.index(i)));
      }
      out = std::move(ints);
    } else {
      why = "argument kind " + quote(kind) + " (control flow or symbolic values) is not supported";
      return false;
    }
    return true;
  }

  // The node's output tensors; each must be declared, and produced by this node only.
  void import_outputs(const json& outs, ir::Node& node, const Where& at) {
    array_at(outs, at);
    auto declared = [&](const json& t, const Where& w) -> Value* {
      std::string name = string_of(field(t, "name", w), w.key("name"));
      auto it = values_.find(name);
      if (it == values_.end()) return nullptr;  // an unused output torch did not declare
      Value* v = it->second;
      if (v->producer || bound_.count(v) ||
          std::find(node.outputs.begin(), node.outputs.end(), v) != node.outputs.end())
        w.fail("tensor " + quote(name) + " already has a producer (a graph input, a constant or another node)");
      return v;
    };
    for (size_t i = 0; i < outs.size(); ++i) {
      const Where oat = at.index(i);
      const auto [kind, v] = union_of(outs[i], oat);
      if (kind == "as_tensor") {
        node.outputs.push_back(declared(object_at(v, oat.key(kind)), oat.key(kind)));
      } else if (kind == "as_tensors") {
        array_at(v, oat.key(kind));
        for (size_t k = 0; k < v.size(); ++k) node.outputs.push_back(declared(v[k], oat.key(kind).index(k)));
      } else if (kind == "as_sym_int" && node.op == kItemOp) {
        // `.item()`: the scalar is a run-time value (a 0-d int64 tensor here), and its symbol names
        // the dims it sizes; the lowering reads the symbol's value from it.
        const std::string name =
            string_of(field(object_at(v, oat.key(kind)), "as_name", oat.key(kind)), oat.key(kind).key("as_name"), 256);
        auto sym = sym_exprs_.find(name);
        if (sym == sym_exprs_.end()) oat.fail("symbolic integer " + quote(name) + " has no graph.sym_int_values entry");
        if (values_.count(name)) oat.fail("tensor " + quote(name) + " already has a producer");
        Value* out = graph_->add_value(name, DType::kInt64, ir::Shape{});
        values_.emplace(name, out);
        node.outputs.push_back(out);
      } else {
        node.outputs.push_back(nullptr);  // symbolic ints and None outputs
      }
    }
  }

  void import_node(const json& n, const Where& at) {
    object_at(n, at);
    auto node = std::make_unique<ir::Node>();
    std::string target = string_of(field(n, "target", at), at.key("target"), 256);
    constexpr std::string_view kPrefix = "torch.ops.";
    node->op = target.rfind(kPrefix, 0) == 0 ? target.substr(kPrefix.size()) : target;
    if (is_runtime_assertion(node->op, n, at)) return;
    if (const json* md = optional_field(n, "metadata"); md && md->is_object()) {
      auto text = [&](const char* key) {
        const json* t = optional_field(*md, key);
        return t && t->is_string() ? t->get<std::string>() : std::string();
      };
      node->source = source_info_from_metadata(text("nn_module_stack"), text("stack_trace"));
    }
    import_outputs(field(n, "outputs", at), *node, at.key("outputs"));
    if (const json* name = optional_field(n, "name"); name && name->is_string())
      node->name = string_of(*name, at.key("name"));
    else if (!node->outputs.empty() && node->outputs[0])
      node->name = node->outputs[0]->name;
    else
      node->name = graph_->unique_name("node");
    if (!node_names_.insert(node->name).second)
      at.key("name").fail("node name " + quote(node->name) + " is used twice");
    const Where node_at = Where(at.str() + " (" + quote(node->op) + " node " + quote(node->name) + ")");
    std::vector<std::string> diagnosed;
    const json& inputs = array_at(field(n, "inputs", at), node_at.key("inputs"));
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Where iat = node_at.key("inputs").index(i);
      std::string arg_name = string_of(field(inputs[i], "name", iat), iat.key("name"), 256);
      Attr attr;
      std::string why;
      if (!to_attr(field(inputs[i], "arg", iat), attr, why, iat.key("arg"), node->op, arg_name)) {
        diagnose(*node, why);
        diagnosed.push_back(arg_name);
        attr = std::monostate{};
      }
      node->args.emplace_back(std::move(arg_name), std::move(attr));
    }
    // `.item()`: a run-time integer (a symbolic int the reader made a value), whose symbol the
    // lowering needs (set after the schema check: it is not an argument). A float or bool scalar
    // used in arithmetic is not supported: reported, and the node goes no further.
    auto item_symbol = sym_exprs_.end();
    if (node->op == kItemOp) {
      if (node->outputs.size() == 1 && node->outputs[0]) item_symbol = sym_exprs_.find(node->outputs[0]->name);
      if (item_symbol == sym_exprs_.end()) {
        diagnose(*node,
                 ".item() is supported for an integer used as a run-time size (x[:n]), not for a float or "
                 "bool scalar");
        return;
      }
    }
    for (const SchemaProblem& p : check_against_schema(*node, diagnosed)) {
      if (p.unsupported)
        diagnose(*node, p.message), diagnosed.push_back("");
      else
        node_at.fail(p.message);
    }
    if (item_symbol != sym_exprs_.end()) node->set("symbol", item_symbol->second);
    // Topological order: every operand exists before this node runs. Zero-size tensors are
    // refused where they would be computed with (lowering divides by dims); torch.cat skips them
    // (Phi-3's q[..., rotary_dim:] when the rotary part is the whole head), and so does
    // evaluate_constants, so a cat may read them. A node whose results are all empty too computes
    // nothing and may read them: Hugging Face's DynamicCache starts as empty tensors that are
    // cloned and then concatenated with the first K/V (every causal LM with use_cache=True).
    const bool skips_empty = node->op == "aten.cat.default" || produces_only_empty(*node);
    for (Value* v : node->operands()) {
      if (!available(v)) node_at.fail("reads tensor " + quote(v->name) + " before any node produces it");
      if (has_zero_dim(v) && !skips_empty)
        node_at.fail("reads the zero-size tensor " + quote(v->name) + " (not supported)");
      if (auto it = bad_dtype_.find(v); it != bad_dtype_.end()) {
        diagnose(*node, "tensor " + quote(v->name) + " has an unsupported dtype (torch ScalarType " +
                            std::to_string(it->second) + ")");
        diagnosed.push_back("");
      }
    }
    // A node producing a zero-size tensor is refused where that tensor is read (above), or
    // dropped with it when nothing does.
    // Ranks, dims and the declared output shape, for a node whose arguments are all represented.
    // The shape rules read arguments the schema check has vouched for: an op without a schema (no
    // lowering either; "cten.max_pool2d..." is not aten's max_pool2d) is only reported later.
    if (diagnosed.empty() && op_schema(node->op)) {
      expand_one_element_lists(*node);
      if (std::string why = check_node_shapes(*node); !why.empty()) node_at.fail(why);
    }
    // A node with an argument the IR cannot hold (a None placeholder stands in for it) is in the
    // report already. The ATen passes match on op names and trust the schema check, which this node
    // did not pass: under an op name no pass knows, none rewrites it or reads its placeholders.
    // The lowering skips it by name and only makes placeholders of its outputs.
    if (!diagnosed.empty()) node->op = kUnrepresentedOp;
    graph_->insert_node(nullptr, std::move(node));
  }

  // torch._check(...) on a run-time scalar: a comparison of symbolic integers (a sym bool) and an
  // assertion on it. LiteRT has no assertion op; the kernels check their own bounds (a SLICE past
  // its input fails at run time), so the checks are left out rather than refusing the model.
  static bool is_runtime_assertion(const std::string& op, const json& n, const Where& at) {
    if (op == "aten._assert_scalar.default" || op == "aten.sym_constrain_range_for_size.default" ||
        op == "aten.sym_constrain_range.default")
      return true;
    static const std::unordered_set<std::string_view> comparisons = {"_operator.ge", "_operator.le", "_operator.gt",
                                                                     "_operator.lt", "_operator.eq", "_operator.ne"};
    if (!comparisons.count(op)) return false;
    const json& outs = array_at(field(n, "outputs", at), at.key("outputs"));
    return outs.size() == 1 && outs[0].is_object() && optional_field(outs[0], "as_sym_bool") != nullptr;
  }

  void diagnose(const ir::Node& node, const std::string& why) {
    result_.diagnostics.push_back(Diagnostic{node.op, node.name, node.source.module_path, node.source.location, why});
  }

  static constexpr std::string_view kItemOp = "aten._local_scalar_dense.default";
  static constexpr std::string_view kUnrepresentedOp = "pt2tflite.unrepresented_arguments";

  const ZipArchive& zip_;
  std::string root_;
  std::unordered_map<std::string, std::string> sym_exprs_;  // graph.sym_int_values: name → symbol
  std::unordered_map<std::string, Payload> weights_, constants_;
  std::unordered_map<std::string, Value*> values_;
  std::unordered_map<const Value*, int64_t> bad_dtype_;
  std::unordered_set<const Value*> bound_;  // model inputs and constants
  std::unordered_set<std::string> node_names_;
  uint64_t synthesized_bytes_ = 0;
  ir::Graph* graph_ = nullptr;
  ir::Signature signature_;
  std::unordered_map<std::string, MutatedBuffer> mutated_;  // by buffer FQN
  std::vector<std::pair<Value*, std::string>> state_outputs_;
  ImportResult result_;
};

}  // namespace

// A frame of the user's code: not torch itself, not the Python standard library (functools and
// contextlib wrappers), not generated code ("<eval_with_key>.3", "<frozen ...>").
static bool is_user_frame(const std::string& file) {
  if (file.empty() || file.front() == '<') return false;
  if (file.find("/torch/") != std::string::npos) return false;
  const size_t lib = file.find("/lib/python3");
  const bool stdlib = lib != std::string::npos && file.find("-packages/", lib) == std::string::npos;
  return !stdlib;
}

ir::SourceInfo source_info_from_metadata(const std::string& nn_module_stack, const std::string& stack_trace) {
  ir::SourceInfo info;
  // nn_module_stack: "key,orig_path,type_str" entries joined by ';', the innermost module last.
  // Module names may hold commas (add_module("a,b", ...), Ultralytics), and then so do both the
  // key and the path ("L__self__a,b,a,b,torch.nn.ReLU"); a path may also hold commas inside
  // brackets (getattr(L['self'].model, '22')). The type never has one: it follows the last
  // comma. The key and the path are spelled from the same names, so they hold as many commas:
  // the path starts after the middle comma at bracket depth 0.
  if (!nn_module_stack.empty()) {
    const size_t semi = nn_module_stack.rfind(';');
    const std::string last = nn_module_stack.substr(semi == std::string::npos ? 0 : semi + 1);
    const size_t type_comma = last.rfind(',');
    if (type_comma != std::string::npos) {
      info.module_type = last.substr(type_comma + 1);
      const std::string key_and_path = last.substr(0, type_comma);
      std::vector<size_t> commas;
      int depth = 0;
      for (size_t i = 0; i < key_and_path.size(); ++i) {
        const char ch = key_and_path[i];
        if (ch == '[' || ch == '(')
          ++depth;
        else if (ch == ']' || ch == ')')
          --depth;
        else if (ch == ',' && depth == 0)
          commas.push_back(i);
      }
      if (!commas.empty()) info.module_path = key_and_path.substr(commas[commas.size() / 2] + 1);
    }
  }
  // stack_trace: Python frames 'File "f", line N, in fn'. The user's line is the innermost frame
  // outside torch itself (torch.nn modules call F.* for the user).
  // Without one (code typed at a prompt: "<stdin>"), the innermost frame outside torch, then the last.
  std::string fallback, outside_torch;
  for (size_t pos = 0; (pos = stack_trace.find("File \"", pos)) != std::string::npos;) {
    size_t fstart = pos + 6, fend = stack_trace.find('"', fstart);
    if (fend == std::string::npos) break;
    size_t lpos = stack_trace.find("line ", fend);
    if (lpos == std::string::npos) break;
    size_t lend = stack_trace.find_first_not_of("0123456789", lpos + 5);
    std::string file = stack_trace.substr(fstart, fend - fstart);
    std::string loc = file + ":" + stack_trace.substr(lpos + 5, lend - lpos - 5);
    fallback = loc;
    if (is_user_frame(file)) info.location = loc;
    if (file.find("/torch/") == std::string::npos) outside_torch = loc;
    pos = fend;
  }
  if (info.location.empty()) info.location = outside_torch.empty() ? fallback : outside_torch;
  return info;
}

ImportResult read_pt2(const ZipArchive& zip) {
  try {
    return Importer(zip).run();
  } catch (const nlohmann::json::exception& e) {
    // Every access above is checked; this is a last line of defence, still a clean rejection.
    throw ConversionError(std::string("models/model.json does not match the torch.export schema: ") +
                          std::string(e.what()).substr(0, 200));
  }
}

}  // namespace pt2tflite::archive
