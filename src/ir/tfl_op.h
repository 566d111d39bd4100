// Typed identities of the TFLite builtin ops (one enum value per row of ir/tfl_ops.inc) and the
// categories passes ask about, so that no pass keeps a list of op names of its own. A lowered
// node keeps its op as text ("tfl.ADD": the IR text format prints and parses it); code compares
// and sets it only through these functions. Nodes before lowering are ATen ops and stay strings.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace pt2tflite::ir {

struct Node;

enum class TflOp {
#define PT2_TFL_OP(NAME, OPT, ELEMENTWISE, LAYOUT, FUSED, INT8, ARENA) NAME,
#include "ir/tfl_ops.inc"
#undef PT2_TFL_OP
};

// The table's columns (ir/tfl_ops.inc explains each value).
enum class Elementwise { NO, UNARY, ARITH, BINARY };
enum class Layout { NO, AGNOSTIC, MOVES };
enum class Int8Kind { NO, WEIGHTED, SAME, FREE, FIXED };
enum class Arena { NO, INPLACE, ALIAS };  // tfl_ops.inc's ARENA column

// "tfl.ADD" for TflOp::ADD: the node's op text.
std::string_view op_name(TflOp op);
// "ADD" for TflOp::ADD: the schema's BuiltinOperator name.
std::string_view builtin_name(TflOp op);
// The op of a lowered node, or nullopt for an ATen node (or an unknown name).
std::optional<TflOp> tfl_op(const Node& n);
std::optional<TflOp> tfl_op_named(std::string_view op_text);
// Every op of the table, in table order.
std::span<const TflOp> all_tfl_ops();

Elementwise elementwise(TflOp op);
Layout layout(TflOp op);
Int8Kind int8_kind(TflOp op);
Arena arena(TflOp op);
// True when both LiteRT's builtin kernel and XNNPACK apply a fused activation on `op`.
bool accepts_fused_activation(TflOp op);

bool is_elementwise_unary(TflOp op);
// ARITH or BINARY: two operands broadcast against each other.
bool is_elementwise_binary(TflOp op);
// Category queries on a node; false for ATen nodes.
bool is_elementwise_unary(const Node& n);
bool is_elementwise_binary(const Node& n);
bool is_arithmetic_binary(const Node& n);  // ADD SUB MUL DIV MAXIMUM MINIMUM
bool is_layout_agnostic(const Node& n);
bool moves_elements(const Node& n);
bool accepts_fused_activation(const Node& n);
Int8Kind int8_kind(const Node& n);
// CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV: ops with a filter (and bias)
// operand, the table's WEIGHTED int8 kind.
bool is_weighted(const Node& n);

// A fused activation (the schema's ActivationFunctionType values we use). TANH exists in the
// schema but XNNPACK refuses it, so no pass fuses it; it is kept so that no value is lost.
enum class Activation { NONE, RELU, RELU_N1_TO_1, RELU6, TANH };
// The node's "fused_activation" attribute; NONE when absent.
Activation fused_activation(const Node& n);
void set_fused_activation(Node& n, Activation act);
std::string_view activation_name(Activation act);
// The activation a kernel can fuse in place of op `n` (RELU, RELU6, RELU_N1_TO_1), or nullopt.
std::optional<Activation> as_fused_activation(const Node& n);
// The op that applies `act` on its own (RELU → TflOp::RELU).
TflOp activation_op(Activation act);

// Convolution and pooling padding: TFLite SAME puts the odd pixel at the end.
enum class Padding { VALID, SAME };
Padding padding(const Node& n);
void set_padding(Node& n, Padding p);

}  // namespace pt2tflite::ir
