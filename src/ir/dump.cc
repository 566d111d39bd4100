// Text form of the IR. Stable (no pointers, no hash order) so tests can hold it as a golden.
#include <sstream>

#include "ir/graph.h"

namespace pt2tflite::ir {

std::string shape_to_string(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) os << ",";
    if (shape[i].is_static())
      os << shape[i].size;
    else
      os << shape[i].symbol;
  }
  os << "]";
  return os.str();
}

static std::string type_of(const Value& v) {
  std::ostringstream os;
  os << dtype_name(v.dtype) << shape_to_string(v.shape);
  if (v.quant) {
    os << "{q:";
    if (v.quant->blockwise)
      os << "blockwise " << v.quant->blockwise->block_size;
    else if (v.quant->scale.size() == 1)
      os << "s=" << v.quant->scale[0] << ",zp=" << v.quant->zero_point[0];
    else
      os << "per-axis " << v.quant->axis << " x" << v.quant->scale.size();
    os << "}";
  }
  return os.str();
}

static std::string ref(const Value* v) { return v ? "%" + v->name : "_"; }

template <typename T>
static void list(std::ostream& os, const std::vector<T>& xs) {
  os << "[";
  for (size_t i = 0; i < xs.size(); ++i) os << (i ? "," : "") << xs[i];
  os << "]";
}

static void print_attr(std::ostream& os, const Attr& a) {
  struct Printer {
    std::ostream& os;
    void operator()(std::monostate) { os << "None"; }
    void operator()(bool b) { os << (b ? "true" : "false"); }
    void operator()(int64_t i) { os << i; }
    void operator()(double d) { os << d; }
    void operator()(const std::string& s) { os << '"' << s << '"'; }
    void operator()(const std::vector<int64_t>& v) { list(os, v); }
    void operator()(const std::vector<double>& v) { list(os, v); }
    void operator()(const std::vector<bool>& v) { list(os, v); }
    void operator()(Value* v) { os << ref(v); }
    void operator()(const std::vector<Value*>& vs) {
      os << "[";
      for (size_t i = 0; i < vs.size(); ++i) os << (i ? "," : "") << ref(vs[i]);
      os << "]";
    }
    void operator()(const SymRef& s) { os << "$" << s.name; }
  };
  std::visit(Printer{os}, a);
}

std::string dump(const Graph& g) {
  std::ostringstream os;
  os << "graph " << g.name << "(";
  for (size_t i = 0; i < g.inputs.size(); ++i)
    os << (i ? ", " : "") << ref(g.inputs[i]) << ": " << type_of(*g.inputs[i]);
  os << ") {\n";
  for (const auto& v : g.values())
    if (v->is_const()) os << "  " << ref(v.get()) << " = const " << type_of(*v) << "\n";
  for (const auto& n : g.nodes()) {
    os << "  ";
    for (size_t i = 0; i < n->outputs.size(); ++i) os << (i ? ", " : "") << ref(n->outputs[i]);
    os << " = " << n->op << "(";
    bool first = true;
    for (const Value* v : n->inputs) {
      os << (first ? "" : ", ") << ref(v);
      first = false;
    }
    for (const auto& [k, a] : n->args) {
      os << (first ? "" : ", ") << k << "=";
      print_attr(os, a);
      first = false;
    }
    os << ") :";
    for (const Value* o : n->outputs)
      if (o) os << " " << type_of(*o);
    os << "\n";
  }
  os << "  return";
  for (size_t i = 0; i < g.outputs.size(); ++i) os << (i ? ", " : " ") << ref(g.outputs[i]);
  os << "\n}\n";
  return os.str();
}

std::string dump(const Module& m) {
  std::ostringstream os;
  for (const auto& g : m.subgraphs) os << dump(*g);
  for (const auto& s : m.signatures) {
    os << "signature " << s.key << " -> " << m.subgraphs[s.subgraph]->name << " (";
    for (size_t i = 0; i < s.input_names.size(); ++i) os << (i ? ", " : "") << s.input_names[i];
    os << ") -> (";
    for (size_t i = 0; i < s.output_names.size(); ++i) os << (i ? ", " : "") << s.output_names[i];
    os << ")\n";
  }
  return os.str();
}

}  // namespace pt2tflite::ir
