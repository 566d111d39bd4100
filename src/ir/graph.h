// The graph IR shared by every stage: values with dtypes and (symbolic) shapes, nodes with
// named attributes, several subgraphs and signatures. The same classes hold the imported
// Core ATen graph ("aten.*" ops) and the lowered TFLite graph ("tfl.*" ops).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ir/dtype.h"
#include "ir/tfl_op.h"

namespace pt2tflite::ir {

// One dimension: a static size, or a symbol (e.g. "s0") for a dynamic dim.
struct Dim {
  int64_t size = 0;    // the size, or the example ("hint") size when symbolic
  std::string symbol;  // empty for a static dim
  bool is_static() const { return symbol.empty(); }
  bool operator==(const Dim&) const = default;
};
using Shape = std::vector<Dim>;

Shape static_shape(std::span<const int64_t> sizes);
// Sizes of a shape (hints for symbolic dims).
std::vector<int64_t> sizes_of(const Shape& shape);
int64_t num_elements(const Shape& shape);
bool is_fully_static(const Shape& shape);
// The shape two operands of these sizes broadcast to (NumPy rules), or nullopt when they do not.
std::optional<std::vector<int64_t>> broadcast_sizes(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
// True when every dim from `first` on is static (e.g. 1: only the batch may be dynamic).
bool is_static_from(const Shape& shape, size_t first);

struct BlockwiseScales;

// Affine quantization: real = scale * (q - zero_point); per-tensor when scale has one entry.
struct QuantParams {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t axis = 0;  // quantized dimension for per-channel params
  // Set instead of scale / zero_point for blockwise weights (see BlockwiseScales).
  std::shared_ptr<const BlockwiseScales> blockwise;
  bool operator==(const QuantParams&) const = default;
};

// Constant bytes: borrowed from a memory-mapped archive (kept alive by `owner`) or owned.
class ConstData {
 public:
  // `file_mapped`: the bytes lie in a read-only file mapping, so drop_pages() may give back
  // their memory (a later read brings it back from the file).
  static ConstData borrow(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes, bool file_mapped = false);
  static ConstData own(std::vector<uint8_t> bytes);
  std::span<const uint8_t> bytes() const { return bytes_; }
  // Once the bytes have been read for the last time in a while: drops their resident pages when
  // they are file-mapped (peak RSS), does nothing otherwise.
  void drop_pages() const;
  template <typename T>
  std::span<const T> as() const {
    return {reinterpret_cast<const T*>(bytes_.data()), bytes_.size() / sizeof(T)};
  }

 private:
  std::shared_ptr<const void> owner_;
  std::span<const uint8_t> bytes_;
  bool file_mapped_ = false;
};

// Blockwise quantization of a 2-D weight [rows, cols] with zero point 0: element (r, c) is
// real = scales[r, c / block_size] · q (TFLite BlockwiseQuantization). The writer stores the
// scales as a FLOAT16 tensor of their own that the weight's quantization parameters point at.
struct BlockwiseScales {
  int32_t block_size = 0;
  Shape shape;            // [rows, cols / block_size]
  ConstData fp16_scales;  // float16 bits, row-major
};

struct Node;

struct Value {
  int id = 0;
  std::string name;
  DType dtype = DType::kFloat32;
  Shape shape;                    // in a lowered graph this is the stored (physical) shape, e.g. NHWC
  std::optional<ConstData> data;  // set for constants
  std::optional<QuantParams> quant;
  Node* producer = nullptr;
  // A model-state input (a KV cache): the runtime binds it and its updated output to one buffer.
  bool is_state = false;

  bool is_const() const { return data.has_value(); }
  int rank() const { return static_cast<int>(shape.size()); }
};

// A symbolic integer passed as an argument (dynamic shapes), by name.
struct SymRef {
  std::string name;
  bool operator==(const SymRef&) const = default;
};

// A node argument: None, scalars, lists, a tensor, or a list of (optional) tensors.
using Attr = std::variant<std::monostate, bool, int64_t, double, std::string, std::vector<int64_t>, std::vector<double>,
                          std::vector<bool>, Value*, std::vector<Value*>, SymRef>;

// Where a node came from in the user's program, for error messages.
struct SourceInfo {
  std::string module_path;  // nn.Module path, e.g. "layer1.0.conv1"
  std::string module_type;  // e.g. "torch.nn.modules.conv.Conv2d"
  std::string location;     // "file:line" of the user's code
};

struct Node {
  std::string op;    // "aten.convolution.default", "tfl.CONV_2D", ...
  std::string name;  // unique within the graph
  // Named arguments in schema order. ATen nodes keep tensors here too; TFLite nodes keep options.
  std::vector<std::pair<std::string, Attr>> args;
  // Ordered operands of a TFLite op (nullptr = omitted optional input). Unused for ATen nodes.
  std::vector<Value*> inputs;
  std::vector<Value*> outputs;  // nullptr for an unused output of a multi-output op
  SourceInfo source;

  // True when this is the lowered TFLite op `op`.
  bool is(TflOp op) const { return this->op == op_name(op); }
  // Makes this node the TFLite op `op` (a rewrite in place).
  void set_op(TflOp op) { this->op = op_name(op); }

  const Attr* find(std::string_view arg) const;
  Attr& set(std::string_view arg, Attr value);
  bool is_none(std::string_view arg) const;
  int64_t get_int(std::string_view arg) const;
  double get_float(std::string_view arg) const;  // accepts ints too
  bool get_bool(std::string_view arg) const;
  const std::string& get_string(std::string_view arg) const;
  const std::vector<int64_t>& get_ints(std::string_view arg) const;
  Value* get_tensor(std::string_view arg) const;  // nullptr when the arg is None
  const std::vector<Value*>& get_tensors(std::string_view arg) const;

  // Every tensor this node reads, from `inputs` and from tensor-valued args.
  std::vector<Value*> operands() const;
};

// A function: values, nodes in topological order, inputs and outputs.
class Graph {
 public:
  std::string name = "main";
  std::vector<Value*> inputs;
  std::vector<Value*> outputs;

  Value* add_value(std::string name, DType dtype, Shape shape);
  Value* add_const(std::string name, DType dtype, Shape shape, ConstData data);
  // Appends a node; its outputs get `producer` set.
  Node* add_node(std::string op, std::string name, std::vector<Value*> inputs, std::vector<Value*> outputs);
  Node* add_node(TflOp op, std::string name, std::vector<Value*> inputs, std::vector<Value*> outputs) {
    return add_node(std::string(op_name(op)), std::move(name), std::move(inputs), std::move(outputs));
  }
  // Inserts a node before `pos` (or at the end when pos is null).
  Node* insert_node(const Node* pos, std::unique_ptr<Node> node);

  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  std::vector<std::unique_ptr<Node>>& mutable_nodes() { return nodes_; }
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }

  // Replaces every use of `from` (node operands and graph outputs) by `to`.
  void replace_uses(Value* from, Value* to);
  // Number of nodes reading `v`, plus one per appearance among the graph outputs.
  int use_count(const Value* v) const;
  std::vector<Node*> users(const Value* v) const;
  // Removes nodes whose outputs are unused and values nothing refers to.
  void remove_dead();
  // A fresh name "stem#N", unique in this graph; a stem that is itself "x#M" gives "x#N". Tensor
  // names without '#' are FX node names (pt2tflite.debug matches them with PyTorch's values).
  std::string unique_name(std::string_view stem);
  // Keeps later unique_name() results from repeating `name` (a "x#N" name read from IR text).
  void reserve_name(std::string_view name);

 private:
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  int next_id_ = 0;
  int next_name_ = 0;
};

// A named entry point into a subgraph, with the user-facing names of its inputs and outputs.
struct Signature {
  std::string key = "serving_default";
  int subgraph = 0;
  std::vector<std::string> input_names;
  std::vector<std::string> output_names;
};

// What gets written to one .tflite file.
struct Module {
  std::vector<std::unique_ptr<Graph>> subgraphs;
  std::vector<Signature> signatures;
  Graph& main() { return *subgraphs.front(); }
};

// The text form of a graph, as printed by `--dump-after`.
std::string dump(const Graph& graph);
std::string dump(const Module& module);
std::string shape_to_string(const Shape& shape);

}  // namespace pt2tflite::ir
