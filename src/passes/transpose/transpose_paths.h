// The machinery that the TRANSPOSE rewrites of simplify_transposes share: paths of ops that data
// movement can cross (RESHAPE, TRANSPOSE, elementwise ops, FULLY_CONNECTED, SOFTMAX), planning a
// path's movement as one View (views.h) placed where it costs least, and emitting the rebuilt ops.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "passes/transpose/views.h"

namespace pt2tflite::passes::paths {

using ir::Graph;
using ir::Node;
using ir::Value;
using Sizes = std::vector<int64_t>;

// XNNPACK and TFLite's TRANSPOSE take at most 6 dims.
constexpr size_t kMaxTransposeRank = 6;

std::vector<int> perm_of(const Node& t);
bool is_graph_output(const Graph& g, const Value* v);
Value* const_i32(Graph& g, const std::string& stem, const std::vector<int32_t>& v, bool scalar = false);
std::vector<int32_t> to_i32(const Sizes& v);
std::vector<int32_t> to_i32(const std::vector<int>& v);
Sizes sizes(const Value* v);
// Float32, static, not a constant and not quantized: what the rewrites may move.
bool plain_float(const Value* v);

// The readers of every value, taken once per sweep.
class Readers {
 public:
  explicit Readers(const Graph& g) : g_(g) {
    for (const auto& n : g.nodes())
      for (Value* v : n->operands()) {
        auto& r = readers_[v];
        r.push_back(n.get());
      }
  }
  // The one op reading `v`, once; nullptr when several ops (or one op twice) or the graph read it.
  Node* only(const Value* v) const {
    auto it = readers_.find(v);
    if (it == readers_.end() || it->second.size() != 1 || is_graph_output(g_, v)) return nullptr;
    return it->second[0];
  }
  const std::vector<Node*>& of(const Value* v) const {
    static const std::vector<Node*> none;
    auto it = readers_.find(v);
    return it == readers_.end() ? none : it->second;
  }

 private:
  const Graph& g_;
  std::unordered_map<const Value*, std::vector<Node*>> readers_;  // a node appears once per read
};

// One op of a path: data movement (a View), or an op that commutes with data movement.
struct Step {
  enum class Kind { kView, kElementwise, kLastDim } kind;
  Node* node;
  int data = 0;  // the input slot the path flows through
  std::optional<View> view = std::nullopt;
  bool needs_last = false;            // kElementwise whose constant varies along the last dim
  bool any_const = false;             // kElementwise with another constant: only whole dims may move
  int64_t last_in = 0, last_out = 0;  // kLastDim: the last dim before and after
};

// `n` as a path step, or nullopt.
std::optional<Step> as_step(Node* n);
Value* data_in(const Step& s);
// The longest chain of steps below `v`, each reading the previous value alone.
std::vector<Step> steps_below(const Readers& readers, Value* v);
int count_transposes(const std::vector<Step>& steps);
// Moves data movement `v` across compute step `s`: `new_last` is the last dim on the far side.
std::optional<View> commute(const View& v, const Step& s, int64_t new_last);
std::vector<int> inverse(const std::vector<int>& p);

// A path's data movement gathered at one point: the first `split` compute steps run before `w`
// (on the path's input layout), the others after it (on the output layout).
struct Plan {
  int split = 0;
  View w;
  bool flip = false;
  std::vector<Sizes> compute_in = {}, compute_out = {};  // per compute step, its shapes in the plan
  std::vector<std::vector<int>> compute_perm = {};       // per compute step, how its constant moves
};

// Every way of gathering the movement: above[p] moves the views before compute step p down to it
// (computes before p then run on the path's input layout), below[p] moves the views from compute
// step p on up to it. nullopt where a move is impossible.
struct Sweeps {
  std::vector<std::optional<View>> above, below;
  std::vector<Sizes> top_in, top_out, bottom_in, bottom_out;
  std::vector<std::vector<int>> top_perm, bottom_perm;  // any_const steps: the constant's permutation
};

Sweeps sweep(const Sizes& top, const std::vector<Step>& steps, const View& bottom);
// Whether the TRANSPOSE of `w` (if any) has few enough dims.
bool fits(const View& w);
// The TRANSPOSE of the last two dims of a tensor of `shape`.
View swap_last_two(const Sizes& shape);
// The best plan for a path: fewest TRANSPOSEs, then the least data moved, then the highest point.
std::optional<Plan> plan_path(const Sizes& top, const std::vector<Step>& steps, const Sizes& bottom, bool flip);
// The BATCH_MATMUL that reads `v` alone as its right operand, or nullptr.
Node* matmul_reading_rhs(const Readers& readers, const Value* v);

// New ops, built in order and inserted together before `pos`; each reads the previous one's
// output unless told otherwise. The last writes `final_value` when there is one.
class Emitter {
 public:
  Emitter(Graph& g, const Node* pos, const Node* like) : g_(g), pos_(pos), like_(like) {}

  void op(ir::TflOp op, std::vector<Value*> inputs, const Sizes& out, const Node* copy_args = nullptr, int data = 0) {
    Pending p{op, std::move(inputs), out, copy_args, data};
    pending_.push_back(std::move(p));
  }
  void reshape(const Sizes& from, const Sizes& to) {
    if (from != to) op(ir::TflOp::RESHAPE, {nullptr, const_i32(g_, like_->name + "_shape", to_i32(to))}, to);
  }
  // The ops performing `w` (at most RESHAPE, TRANSPOSE, RESHAPE).
  void view(const View& w);
  bool empty() const { return pending_.empty(); }

  // Inserts the ops reading `input`; returns the last output (`input` when there are none).
  Value* emit(Value* input, Value* final_value);

 private:
  struct Pending {
    ir::TflOp op;
    std::vector<Value*> inputs;
    Sizes out;
    const Node* copy_args;
    int data;
  };
  Graph& g_;
  const Node* pos_;
  const Node* like_;
  std::vector<Pending> pending_;
};

// A constant operand of a compute step, usable at rank `rank`: the same constant when its rank
// fits, else its values with the leading 1s dropped.
Value* constant_for_rank(Graph& g, Value* c, size_t rank);
// A constant operand of an elementwise op moved with its data by dim permutation `perm` (out dim
// i = in dim perm[i]), after padding it with leading 1s to the permutation's rank.
Value* permuted_constant(Graph& g, Value* c, const std::vector<int>& perm);
// Queues the compute steps [begin, end) of `steps` with the shapes and constant permutations of
// plan slots [begin, end).
void queue_computes(Graph& g, Emitter& e, const std::vector<Step>& steps, const std::vector<Sizes>& outs,
                    const std::vector<std::vector<int>>& perms, int begin, int end);
// Detaches `v` from the op that wrote it (that op then writes a value nobody reads).
void detach(Graph& g, Value* v);
// A binary elementwise op of two activations shaped like its output (no broadcasting).
bool is_junction(const Node* n);
// The steps ending at `v` (which `reader` alone reads), from the highest; `top` is their input.
std::vector<Step> steps_above(const Readers& readers, Value* v, const Node* reader, Value*& top);
// TRANSPOSEs a path needs at best with movement `w` appended.
int transposes_with(const Sizes& top, std::vector<Step> steps, const View& w);
// The steps that end at `v` (whoever reads v), from the highest; `top` is their input.
std::vector<Step> steps_ending_at(const Readers& readers, Value* v, Value*& top);
// TRANSPOSEs a path needs at best with movement `w` prepended.
int transposes_after(const View& w, std::vector<Step> steps);

// The rewrites; each returns whether it changed the graph.
// Paths with more TRANSPOSEs than their plan needs (simplify_transposes.cc).
bool merge_paths(Graph& g);
// Movement common to all pieces of a split, moved before it (transpose_splits.cc).
bool hoist_splits(Graph& g);
// Movement after a residual ADD moved into its inputs (transpose_junctions.cc).
bool hoist_through_junctions(Graph& g);
// Values with several readers stored in the order they want (transpose_junctions.cc).
bool relayouts(Graph& g);

}  // namespace pt2tflite::passes::paths
