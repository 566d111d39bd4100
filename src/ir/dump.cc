// Text form of the IR. Stable (no pointers, no hash order) so tests can hold it as a golden, and
// complete enough for ir::parse (ir/parse.h) to read back: dump(parse(dump(m))) == dump(m).
// Floats print in their shortest exact form; constants up to kMaxPrintedElements print their values.
#include <charconv>
#include <sstream>

#include "ir/constants.h"
#include "ir/graph.h"
#include "ir/text_format.h"

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

std::string float_to_text(float x) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
}

std::string double_to_text(double x) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
}

// A float attribute always shows it is one ("1.0", not "1"), so parse gives back a double.
static std::string float_attr_to_text(double x) {
  std::string s = double_to_text(x);
  if (s.find_first_of(".ein") == std::string::npos) s += ".0";
  return s;
}

template <typename T, typename F>
static void list(std::ostream& os, const std::vector<T>& xs, F fmt) {
  os << "[";
  for (size_t i = 0; i < xs.size(); ++i) os << (i ? "," : "") << fmt(xs[i]);
  os << "]";
}

static std::string type_of(const Value& v) {
  std::ostringstream os;
  os << dtype_name(v.dtype) << shape_to_string(v.shape);
  if (v.quant) {
    const QuantParams& q = *v.quant;
    os << "{q:";
    if (q.blockwise) {
      // The block scales print as their shape only; parse gives them a fixed fill.
      os << "blockwise=" << q.blockwise->block_size << ",scales=" << shape_to_string(q.blockwise->shape);
    } else if (q.scale.size() == 1 && q.zero_point.size() == 1 && q.axis == 0) {
      os << "s=" << float_to_text(q.scale[0]) << ",zp=" << q.zero_point[0];
    } else {
      os << "axis=" << q.axis << ",s=";
      list(os, q.scale, float_to_text);
      os << ",zp=";
      list(os, q.zero_point, [](int64_t z) { return z; });
    }
    os << "}";
  }
  return os.str();
}

// The values of a small constant, "[1.5, -2]", or "<N elements>" for a larger one.
static std::string const_values(const Value& v) {
  const int64_t n = num_elements(v.shape);
  if (n > kMaxPrintedElements) return "<" + std::to_string(n) + " elements>";
  const ConstData& d = *v.data;
  std::vector<std::string> xs;
  auto ints = [&](auto span) {
    for (auto x : span) xs.push_back(std::to_string(static_cast<int64_t>(x)));
  };
  switch (v.dtype) {
    case DType::kFloat32:
      for (float x : d.as<float>()) xs.push_back(float_to_text(x));
      break;
    case DType::kFloat64:
      for (double x : d.as<double>()) xs.push_back(double_to_text(x));
      break;
    case DType::kFloat16:
      for (uint16_t h : d.as<uint16_t>()) xs.push_back(float_to_text(f16_to_f32(h)));
      break;
    case DType::kBFloat16:
      for (uint16_t h : d.as<uint16_t>()) xs.push_back(float_to_text(bf16_to_f32(h)));
      break;
    case DType::kBool:
      for (uint8_t b : d.as<uint8_t>()) xs.push_back(b ? "true" : "false");
      break;
    case DType::kInt8: ints(d.as<int8_t>()); break;
    case DType::kUInt8: ints(d.as<uint8_t>()); break;
    case DType::kInt16: ints(d.as<int16_t>()); break;
    case DType::kInt32: ints(d.as<int32_t>()); break;
    case DType::kInt64: ints(d.as<int64_t>()); break;
    case DType::kInt4:
      for (int8_t x : unpack_int4(d.bytes(), n)) xs.push_back(std::to_string(x));
      break;
  }
  std::string out = "[";
  for (size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + xs[i];
  return out + "]";
}

static std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

static std::string ref(const Value* v) { return v ? "%" + v->name : "_"; }

static void print_attr(std::ostream& os, const Attr& a) {
  struct Printer {
    std::ostream& os;
    void operator()(std::monostate) { os << "None"; }
    void operator()(bool b) { os << (b ? "true" : "false"); }
    void operator()(int64_t i) { os << i; }
    void operator()(double d) { os << float_attr_to_text(d); }
    void operator()(const std::string& s) { os << quoted(s); }
    void operator()(const std::vector<int64_t>& v) {
      list(os, v, [](int64_t x) { return x; });
    }
    void operator()(const std::vector<double>& v) { list(os, v, float_attr_to_text); }
    void operator()(const std::vector<bool>& v) {
      list(os, v, [](bool b) { return b ? "true" : "false"; });
    }
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
    os << (i ? ", " : "") << ref(g.inputs[i]) << ": " << type_of(*g.inputs[i])
       << (g.inputs[i]->is_state ? " state" : "");
  os << ") {\n";
  for (const auto& v : g.values())
    if (v->is_const()) os << "  " << ref(v.get()) << " = const " << type_of(*v) << " = " << const_values(*v) << "\n";
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
