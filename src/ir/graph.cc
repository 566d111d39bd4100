#include "ir/graph.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <unordered_map>
#include <unordered_set>

#include "util/check.h"
#include "util/pages.h"

namespace pt2tflite::ir {

Shape static_shape(std::span<const int64_t> sizes) {
  Shape s;
  for (int64_t v : sizes) s.push_back(Dim{v, {}});
  return s;
}

std::vector<int64_t> sizes_of(const Shape& shape) {
  std::vector<int64_t> out;
  for (const Dim& d : shape) out.push_back(d.size);
  return out;
}

int64_t num_elements(const Shape& shape) {
  int64_t n = 1;
  for (const Dim& d : shape) n *= d.size;
  return n;
}

std::optional<std::vector<int64_t>> broadcast_sizes(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t x = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    int64_t y = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (x != y && x != 1 && y != 1) return std::nullopt;
    out[i] = x == 1 ? y : x;
  }
  return out;
}

bool is_fully_static(const Shape& shape) {
  return std::all_of(shape.begin(), shape.end(), [](const Dim& d) { return d.is_static(); });
}

bool is_static_from(const Shape& shape, size_t first) {
  return first >= shape.size() || is_fully_static(Shape(shape.begin() + first, shape.end()));
}

ConstData ConstData::borrow(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes, bool file_mapped) {
  ConstData c;
  c.owner_ = std::move(owner);
  c.bytes_ = bytes;
  c.file_mapped_ = file_mapped;
  return c;
}

void ConstData::drop_pages() const {
  if (file_mapped_) util::drop_mapped_pages(bytes_);
}

ConstData ConstData::own(std::vector<uint8_t> bytes) {
  auto holder = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  ConstData c;
  c.bytes_ = {holder->data(), holder->size()};
  c.owner_ = std::move(holder);
  return c;
}

const Attr* Node::find(std::string_view arg) const {
  for (const auto& [k, v] : args)
    if (k == arg) return &v;
  return nullptr;
}

Attr& Node::set(std::string_view arg, Attr value) {
  for (auto& [k, v] : args)
    if (k == arg) return v = std::move(value);
  args.emplace_back(std::string(arg), std::move(value));
  return args.back().second;
}

bool Node::is_none(std::string_view arg) const {
  const Attr* a = find(arg);
  return !a || std::holds_alternative<std::monostate>(*a) ||
         (std::holds_alternative<Value*>(*a) && std::get<Value*>(*a) == nullptr);
}

template <typename T>
static const T& get_as(const Node& n, std::string_view arg) {
  const Attr* a = n.find(arg);
  PT2_CHECK(a, n.op << " node " << n.name << " has no argument '" << arg << "'");
  const T* v = std::get_if<T>(a);
  PT2_CHECK(v, n.op << " node " << n.name << ": argument '" << arg << "' has an unexpected kind");
  return *v;
}

int64_t Node::get_int(std::string_view arg) const {
  const Attr* a = find(arg);
  if (a && std::holds_alternative<bool>(*a)) return std::get<bool>(*a);
  return get_as<int64_t>(*this, arg);
}

double Node::get_float(std::string_view arg) const {
  const Attr* a = find(arg);
  if (a && std::holds_alternative<int64_t>(*a)) return static_cast<double>(std::get<int64_t>(*a));
  if (a && std::holds_alternative<bool>(*a)) return std::get<bool>(*a) ? 1.0 : 0.0;
  return get_as<double>(*this, arg);
}

bool Node::get_bool(std::string_view arg) const { return get_as<bool>(*this, arg); }
const std::string& Node::get_string(std::string_view arg) const { return get_as<std::string>(*this, arg); }
const std::vector<int64_t>& Node::get_ints(std::string_view arg) const {
  return get_as<std::vector<int64_t>>(*this, arg);
}
Value* Node::get_tensor(std::string_view arg) const {
  if (is_none(arg)) return nullptr;
  return get_as<Value*>(*this, arg);
}
const std::vector<Value*>& Node::get_tensors(std::string_view arg) const {
  return get_as<std::vector<Value*>>(*this, arg);
}

std::vector<Value*> Node::operands() const {
  std::vector<Value*> out;
  for (Value* v : inputs)
    if (v) out.push_back(v);
  for (const auto& [k, a] : args) {
    if (auto* v = std::get_if<Value*>(&a); v && *v) out.push_back(*v);
    if (auto* vs = std::get_if<std::vector<Value*>>(&a))
      for (Value* v : *vs)
        if (v) out.push_back(v);
  }
  return out;
}

Value* Graph::add_value(std::string vname, DType dtype, Shape shape) {
  auto v = std::make_unique<Value>();
  v->id = next_id_++;
  v->name = std::move(vname);
  v->dtype = dtype;
  v->shape = std::move(shape);
  values_.push_back(std::move(v));
  return values_.back().get();
}

Value* Graph::add_const(std::string vname, DType dtype, Shape shape, ConstData data) {
  PT2_CHECK(is_fully_static(shape), "constant " << vname << " has a dynamic shape");
  PT2_CHECK(data.bytes().size() == storage_bytes(dtype, num_elements(shape)),
            "constant " << vname << " has " << data.bytes().size() << " bytes for shape " << shape_to_string(shape));
  Value* v = add_value(std::move(vname), dtype, std::move(shape));
  v->data = std::move(data);
  return v;
}

Node* Graph::add_node(std::string op, std::string nname, std::vector<Value*> ins, std::vector<Value*> outs) {
  auto n = std::make_unique<Node>();
  n->op = std::move(op);
  n->name = std::move(nname);
  n->inputs = std::move(ins);
  n->outputs = std::move(outs);
  return insert_node(nullptr, std::move(n));
}

Node* Graph::insert_node(const Node* pos, std::unique_ptr<Node> node) {
  for (Value* o : node->outputs)
    if (o) o->producer = node.get();
  auto it = nodes_.end();
  if (pos)
    it = std::find_if(nodes_.begin(), nodes_.end(), [pos](const std::unique_ptr<Node>& n) { return n.get() == pos; });
  return nodes_.insert(it, std::move(node))->get();
}

void Graph::replace_uses(Value* from, Value* to) {
  for (auto& n : nodes_) {
    for (Value*& v : n->inputs)
      if (v == from) v = to;
    for (auto& [k, a] : n->args) {
      if (auto* v = std::get_if<Value*>(&a); v && *v == from) *v = to;
      if (auto* vs = std::get_if<std::vector<Value*>>(&a))
        for (Value*& v : *vs)
          if (v == from) v = to;
    }
  }
  for (Value*& v : outputs)
    if (v == from) v = to;
}

int Graph::use_count(const Value* v) const {
  int n = static_cast<int>(std::count(outputs.begin(), outputs.end(), v));
  for (const auto& node : nodes_)
    for (Value* o : node->operands())
      if (o == v) ++n;
  return n;
}

std::vector<Node*> Graph::users(const Value* v) const {
  std::vector<Node*> out;
  for (const auto& node : nodes_)
    for (Value* o : node->operands())
      if (o == v) {
        out.push_back(node.get());
        break;
      }
  return out;
}

void Graph::remove_dead() {
  std::unordered_set<const Value*> live(outputs.begin(), outputs.end());
  live.insert(inputs.begin(), inputs.end());
  // A symbolic size argument ($name) reads the run-time scalar of that name (`.item()`), if any.
  // The name map is built on the first such argument: most graphs have none, and this runs after
  // every pass.
  std::unordered_map<std::string_view, const Value*> by_name;
  auto named = [&](const std::string& name) -> const Value* {
    if (by_name.empty())
      for (const auto& v : values_) by_name.emplace(v->name, v.get());
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  };
  // Walk backwards: a node is live if any of its outputs is read by a live node or the graph.
  std::vector<bool> keep(nodes_.size(), false);
  for (size_t i = nodes_.size(); i-- > 0;) {
    const Node& n = *nodes_[i];
    bool used = std::any_of(n.outputs.begin(), n.outputs.end(), [&](const Value* o) { return o && live.count(o); });
    if (!used) continue;
    keep[i] = true;
    for (Value* o : n.outputs)  // a kept op writes all its outputs, used or not
      if (o) live.insert(o);
    for (Value* o : n.operands()) live.insert(o);
    for (const auto& arg : n.args)
      if (const auto* sym = std::get_if<SymRef>(&arg.second))
        if (const Value* scalar = named(sym->name)) live.insert(scalar);
  }
  std::vector<std::unique_ptr<Node>> kept;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (keep[i]) kept.push_back(std::move(nodes_[i]));
  nodes_ = std::move(kept);
  std::vector<std::unique_ptr<Value>> kept_values;
  for (auto& v : values_)
    if (live.count(v.get())) kept_values.push_back(std::move(v));
  values_ = std::move(kept_values);
}

std::string Graph::unique_name(std::string_view stem) {
  // '#' never occurs in an FX node name, so a derived name cannot collide with a node's own
  // (relu#12 next to FX node relu_12), and the part before it names the node it came from.
  return std::string(stem.substr(0, stem.find('#'))) + "#" + std::to_string(next_name_++);
}

void Graph::reserve_name(std::string_view name) {
  size_t hash = name.find('#');
  if (hash == std::string_view::npos) return;
  int n = 0;
  auto digits = name.substr(hash + 1);
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (r.ec == std::errc() && n >= next_name_ && n < INT32_MAX) next_name_ = n + 1;
}

}  // namespace pt2tflite::ir
