#include "ir/tfl_op.h"

#include <algorithm>
#include <array>
#include <string>
#include <unordered_map>

#include "ir/graph.h"
#include "util/check.h"

namespace pt2tflite::ir {
namespace {

struct Row {
  std::string_view op_name;  // "tfl.ADD"
  Elementwise elementwise;
  Layout layout;
  bool fuses;
  Int8Kind int8;
  Arena arena;
};

constexpr Row kRows[] = {
#define PT2_TFL_OP(NAME, OPT, ELEMENTWISE, LAYOUT, FUSED, INT8, ARENA)                                          \
  {"tfl." #NAME, Elementwise::ELEMENTWISE, Layout::LAYOUT, std::string_view(#FUSED) == "FUSES", Int8Kind::INT8, \
   Arena::ARENA},
#include "ir/tfl_ops.inc"
#undef PT2_TFL_OP
};

constexpr TflOp kAll[] = {
#define PT2_TFL_OP(NAME, OPT, ELEMENTWISE, LAYOUT, FUSED, INT8, ARENA) TflOp::NAME,
#include "ir/tfl_ops.inc"
#undef PT2_TFL_OP
};

const Row& row(TflOp op) { return kRows[static_cast<size_t>(op)]; }

}  // namespace

std::string_view op_name(TflOp op) { return row(op).op_name; }
std::string_view builtin_name(TflOp op) { return row(op).op_name.substr(4); }

std::optional<TflOp> tfl_op_named(std::string_view op_text) {
  static const std::unordered_map<std::string_view, TflOp> by_name = [] {
    std::unordered_map<std::string_view, TflOp> m;
    for (TflOp op : kAll) m.emplace(op_name(op), op);
    return m;
  }();
  auto it = by_name.find(op_text);
  if (it == by_name.end()) return std::nullopt;
  return it->second;
}

std::optional<TflOp> tfl_op(const Node& n) { return tfl_op_named(n.op); }
std::span<const TflOp> all_tfl_ops() { return kAll; }

Elementwise elementwise(TflOp op) { return row(op).elementwise; }
Layout layout(TflOp op) { return row(op).layout; }
Int8Kind int8_kind(TflOp op) { return row(op).int8; }
Arena arena(TflOp op) { return row(op).arena; }
bool accepts_fused_activation(TflOp op) { return row(op).fuses; }
bool is_elementwise_unary(TflOp op) { return elementwise(op) == Elementwise::UNARY; }
bool is_elementwise_binary(TflOp op) {
  return elementwise(op) == Elementwise::ARITH || elementwise(op) == Elementwise::BINARY;
}

namespace {
template <typename F>
auto ask(const Node& n, F f, decltype(f(TflOp{})) otherwise) {
  std::optional<TflOp> op = tfl_op(n);
  return op ? f(*op) : otherwise;
}
}  // namespace

bool is_elementwise_unary(const Node& n) {
  return ask(
      n, [](TflOp o) { return is_elementwise_unary(o); }, false);
}
bool is_elementwise_binary(const Node& n) {
  return ask(
      n, [](TflOp o) { return is_elementwise_binary(o); }, false);
}
bool is_arithmetic_binary(const Node& n) {
  return ask(
      n, [](TflOp o) { return elementwise(o) == Elementwise::ARITH; }, false);
}
bool is_layout_agnostic(const Node& n) {
  return ask(
      n, [](TflOp o) { return layout(o) == Layout::AGNOSTIC; }, false);
}
bool moves_elements(const Node& n) {
  return ask(
      n, [](TflOp o) { return layout(o) == Layout::MOVES; }, false);
}
bool accepts_fused_activation(const Node& n) {
  return ask(
      n, [](TflOp o) { return accepts_fused_activation(o); }, false);
}
bool is_weighted(const Node& n) { return int8_kind(n) == Int8Kind::WEIGHTED; }
Int8Kind int8_kind(const Node& n) {
  return ask(
      n, [](TflOp o) { return int8_kind(o); }, Int8Kind::NO);
}

namespace {
constexpr std::array<std::pair<Activation, std::string_view>, 5> kActivations = {{
    {Activation::NONE, "NONE"},
    {Activation::RELU, "RELU"},
    {Activation::RELU_N1_TO_1, "RELU_N1_TO_1"},
    {Activation::RELU6, "RELU6"},
    {Activation::TANH, "TANH"},
}};
}  // namespace

std::string_view activation_name(Activation act) {
  for (const auto& [a, name] : kActivations)
    if (a == act) return name;
  PT2_CHECK(false, "unhandled activation");
}

Activation fused_activation(const Node& n) {
  const Attr* a = n.find("fused_activation");
  if (!a) return Activation::NONE;
  const std::string& s = std::get<std::string>(*a);
  for (const auto& [act, name] : kActivations)
    if (s == name) return act;
  PT2_CHECK(false, "unknown fused activation " << s << " on node " << n.name);
}

void set_fused_activation(Node& n, Activation act) { n.set("fused_activation", std::string(activation_name(act))); }

std::optional<Activation> as_fused_activation(const Node& n) {
  std::optional<TflOp> op = tfl_op(n);
  if (op == TflOp::RELU) return Activation::RELU;
  if (op == TflOp::RELU6) return Activation::RELU6;
  if (op == TflOp::RELU_N1_TO_1) return Activation::RELU_N1_TO_1;
  return std::nullopt;
}

TflOp activation_op(Activation act) {
  switch (act) {
    case Activation::RELU: return TflOp::RELU;
    case Activation::RELU6: return TflOp::RELU6;
    case Activation::RELU_N1_TO_1: return TflOp::RELU_N1_TO_1;
    case Activation::TANH: return TflOp::TANH;
    case Activation::NONE: break;
  }
  PT2_CHECK(false, "no op applies fused activation NONE");
}

Padding padding(const Node& n) { return n.get_string("padding") == "SAME" ? Padding::SAME : Padding::VALID; }
void set_padding(Node& n, Padding p) { n.set("padding", std::string(p == Padding::SAME ? "SAME" : "VALID")); }

}  // namespace pt2tflite::ir
