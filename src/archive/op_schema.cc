#include "archive/op_schema.h"

#include <algorithm>
#include <unordered_map>

#include "archive/json_checks.h"

namespace pt2tflite::archive {
namespace {

using ir::Attr;
using Ints = std::vector<int64_t>;
constexpr bool kRequired = true;

// Either `true` (required) or a default value, as the generated table writes them.
struct Required {
  bool required;
  Attr value;
  Required(bool r) : required(r) {}                           // NOLINT: kRequired
  Required(Attr v) : required(false), value(std::move(v)) {}  // NOLINT: a default
};

struct ArgRow {
  const char* name;
  ArgKind kind;
  Required def;
};

struct OpRow {
  const char* op;
  std::vector<ArgRow> args;
  int outputs;
};

const std::unordered_map<std::string_view, OpSchema>& table() {
  static const auto* t = [] {
    static const std::vector<OpRow> rows = {
#include "archive/op_schemas.inc"
    };
    auto* m = new std::unordered_map<std::string_view, OpSchema>;
    for (const OpRow& r : rows) {
      OpSchema s{r.op, {}, r.outputs};
      for (const ArgRow& a : r.args) s.args.push_back({a.name, a.kind, a.def.required, a.def.value});
      m->emplace(s.op, std::move(s));
    }
    return m;
  }();
  return *t;
}

const char* kind_name(ArgKind k) {
  switch (k) {
    case ArgKind::kTensor: return "a tensor";
    case ArgKind::kOptTensor: return "a tensor or None";
    case ArgKind::kTensors: return "a list of tensors";
    case ArgKind::kOptTensors: return "a list of optional tensors";
    case ArgKind::kInt: return "an int";
    case ArgKind::kOptInt: return "an int or None";
    case ArgKind::kInts: return "a list of ints";
    case ArgKind::kOptInts: return "a list of ints or None";
    case ArgKind::kFloat: return "a float";
    case ArgKind::kOptFloat: return "a float or None";
    case ArgKind::kOptFloats: return "a list of floats or None";
    case ArgKind::kBool: return "a bool";
    case ArgKind::kOptBool: return "a bool or None";
    case ArgKind::kScalar: return "a number";
    case ArgKind::kOptScalar: return "a number or None";
    case ArgKind::kString: return "a string";
    case ArgKind::kOptString: return "a string or None";
    case ArgKind::kDevice: return "a device";
    case ArgKind::kOptDevice: return "a device or None";
  }
  return "?";
}

template <typename T>
bool is(const Attr& a) {
  return std::holds_alternative<T>(a);
}

bool is_none(const Attr& a) { return is<std::monostate>(a) || (is<ir::Value*>(a) && !std::get<ir::Value*>(a)); }

// Whether `a` has the kind the schema asks for. Normalizes the few spellings torch uses for the
// same thing (an empty list serialized as a tensor list, an int where a float is expected).
bool matches(ArgKind kind, Attr& a, bool number_ok) {
  const bool none = is_none(a);
  if (is<std::vector<ir::Value*>>(a) && std::get<std::vector<ir::Value*>>(a).empty() &&
      (kind == ArgKind::kInts || kind == ArgKind::kOptInts)) {
    a = Ints{};
    return true;
  }
  switch (kind) {
    case ArgKind::kTensor:
      return (is<ir::Value*>(a) && !none) || (number_ok && (is<int64_t>(a) || is<double>(a) || is<bool>(a)));
    case ArgKind::kOptTensor: return is<ir::Value*>(a) || none;
    case ArgKind::kTensors: {
      if (!is<std::vector<ir::Value*>>(a)) return false;
      const auto& vs = std::get<std::vector<ir::Value*>>(a);
      return std::all_of(vs.begin(), vs.end(), [](const ir::Value* v) { return v != nullptr; });
    }
    case ArgKind::kOptTensors: return is<std::vector<ir::Value*>>(a);
    case ArgKind::kInt: return is<int64_t>(a);
    case ArgKind::kOptInt: return is<int64_t>(a) || none;
    case ArgKind::kInts: return is<Ints>(a);
    case ArgKind::kOptInts: return is<Ints>(a) || none;
    case ArgKind::kFloat: return is<double>(a) || is<int64_t>(a);
    case ArgKind::kOptFloat: return is<double>(a) || is<int64_t>(a) || none;
    case ArgKind::kOptFloats: return is<std::vector<double>>(a) || none;
    case ArgKind::kBool: return is<bool>(a);
    case ArgKind::kOptBool: return is<bool>(a) || none;
    case ArgKind::kScalar: return is<int64_t>(a) || is<double>(a) || is<bool>(a);
    case ArgKind::kOptScalar: return is<int64_t>(a) || is<double>(a) || is<bool>(a) || none;
    case ArgKind::kString:
    case ArgKind::kDevice: return is<std::string>(a);
    case ArgKind::kOptString:
    case ArgKind::kOptDevice: return is<std::string>(a) || none;
  }
  return false;
}

bool takes_int(ArgKind k) {
  return k == ArgKind::kInt || k == ArgKind::kOptInt || k == ArgKind::kScalar || k == ArgKind::kOptScalar;
}

}  // namespace

const OpSchema* op_schema(std::string_view op) {
  auto it = table().find(op);
  return it == table().end() ? nullptr : &it->second;
}

bool int_arg_restated_by_output(std::string_view op, std::string_view arg) {
  return arg == "end" && (op == "aten.slice.Tensor" || op == "aten.arange.default" || op == "aten.arange.start" ||
                          op == "aten.arange.start_step");
}

bool sizes_restate_output(std::string_view op) {
  return op == "aten.view.default" || op == "aten._unsafe_view.default" || op == "aten.reshape.default" ||
         op == "aten.expand.default";
}

bool args_may_restate_runtime_sizes(std::string_view op) {
  return sizes_restate_output(op) || int_arg_restated_by_output(op, "end");
}

std::vector<SchemaProblem> check_against_schema(ir::Node& node, const std::vector<std::string>& diagnosed) {
  std::vector<SchemaProblem> problems;
  const OpSchema* schema = op_schema(node.op);
  if (!schema) return problems;
  auto spec_of = [&](std::string_view name) -> const ArgSpec* {
    for (const ArgSpec& s : schema->args)
      if (name == s.name) return &s;
    return nullptr;
  };
  for (size_t i = 0; i < node.args.size(); ++i) {
    const std::string& name = node.args[i].first;
    if (!spec_of(name))
      problems.push_back({"argument " + quote(name) + " is not in the schema of " + std::string(schema->op)});
    for (size_t k = 0; k < i; ++k)
      if (node.args[k].first == name) problems.push_back({"argument " + quote(name) + " is given twice"});
  }
  // torch.export writes `x * 2.0` as mul.Tensor with a number for `other`, and `2.0 - x` as
  // sub.Tensor with a number for `self`: the binary elementwise rules take a number for either
  // operand, as long as the other one is a tensor.
  const ArgSpec* self_spec = spec_of("self");
  const ArgSpec* other_spec = spec_of("other");
  const bool binary =
      self_spec && other_spec && self_spec->kind == ArgKind::kTensor && other_spec->kind == ArgKind::kTensor;
  auto tensor_arg = [&](const char* name) {
    const Attr* a = node.find(name);
    return a && is<ir::Value*>(*a) && std::get<ir::Value*>(*a);
  };
  if (binary && !tensor_arg("self") && !tensor_arg("other"))
    problems.push_back({"neither 'self' nor 'other' is a tensor"});
  for (const ArgSpec& s : schema->args) {
    if (std::find(diagnosed.begin(), diagnosed.end(), s.name) != diagnosed.end()) continue;
    Attr* a = nullptr;
    for (auto& [k, v] : node.args)
      if (k == s.name) a = &v;
    if (!a) {
      if (s.required) {
        problems.push_back({"required argument '" + std::string(s.name) + "' is missing"});
        continue;
      }
      node.args.emplace_back(s.name, s.default_value);
      continue;
    }
    if (is<ir::SymRef>(*a) && takes_int(s.kind) && int_arg_restated_by_output(node.op, s.name)) continue;
    if (is<ir::SymRef>(*a) && takes_int(s.kind)) {
      problems.push_back({"argument '" + std::string(s.name) + "' is a symbolic integer (" +
                              quote(std::get<ir::SymRef>(*a).name) + "); dynamic shapes are not supported yet",
                          /*unsupported=*/true});
      continue;
    }
    const bool number_ok = binary && (s.name == std::string_view("self") || s.name == std::string_view("other"));
    if (!matches(s.kind, *a, number_ok))
      problems.push_back({"argument '" + std::string(s.name) + "' must be " + kind_name(s.kind)});
  }
  // Outputs: the schema's count (a list output may have any length). The first one must exist:
  // every rule writes it.
  const size_t n = node.outputs.size();
  if (schema->outputs >= 0 && n != static_cast<size_t>(schema->outputs))
    problems.push_back({std::string(schema->op) + " has " + std::to_string(schema->outputs) +
                        " outputs, the node lists " + std::to_string(n)});
  else if (schema->outputs > 0 && !node.outputs[0])
    problems.push_back({"its first output is not a declared tensor"});
  return problems;
}

}  // namespace pt2tflite::archive
