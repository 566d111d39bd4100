// TRANSPOSE and RESHAPE cleanup after lowering, which met one op at a time.
//
// Neighbours: a TRANSPOSE of a TRANSPOSE is one TRANSPOSE (or nothing when the two cancel), a
// TRANSPOSE that moves only size-1 dims reorders no bytes and is a RESHAPE, a RESHAPE of a RESHAPE
// is one RESHAPE, and a RESHAPE to the shape it already has is nothing.
//
// Paths: a chain of ops, each read only by the next, made of RESHAPEs, TRANSPOSEs and ops that
// commute with data movement (elementwise ops with scalar constants, and FULLY_CONNECTED / SOFTMAX
// when the movement leaves the last dim alone) is rebuilt with all its data movement at one point,
// as at most one TRANSPOSE (views.h). This merges a window partition with the head split after the
// qkv projection, and the head merge with the window reverse around the output projection. A path
// into BATCH_MATMUL's right operand may end swapped, with adj_y toggled, when that saves a TRANSPOSE.
//
// Junctions: when the movement after a binary op of two activations (a residual ADD) would cost
// fewer TRANSPOSEs on both its inputs, where it can merge with their own movement, it goes there.
//
// Layouts: a value with several readers is stored with its dims in another order when its producer
// and its readers then need fewer TRANSPOSEs in all (each reader takes the inverse order, which
// merges into its path; a junction reader runs in the new order). Elementwise constants follow
// such whole-dim reorders (a batch norm's per-channel vectors, NCHW → NHWC).
//
// Splits: when every piece of a SPLIT (or of SLICEs along one axis) goes through the same data
// movement, possibly with adj_y (attention's q, k and v after the qkv projection), the movement
// happens once, before the split, which then cuts along the moved axis.
//
// Each rewrite keeps every element and every computed value exactly; only float tensors without
// quantization parameters are touched (PT2E islands keep their QUANTIZE / DEQUANTIZE framing).
#include <algorithm>
#include <numeric>
#include <optional>
#include <set>
#include <unordered_map>

#include "lower/const_eval.h"
#include "lower/layout.h"
#include "passes/passes.h"
#include "passes/views.h"
#include "util/check.h"

namespace pt2tflite::passes {
namespace {

using ir::Graph;
using ir::Node;
using ir::Value;
using Sizes = std::vector<int64_t>;

// XNNPACK and TFLite's TRANSPOSE take at most 6 dims.
constexpr size_t kMaxTransposeRank = 6;

std::vector<int> perm_of(const Node& t) {
  const auto p = lower::to_int_vector(*t.inputs.at(1));
  return {p.begin(), p.end()};
}

bool is_graph_output(const Graph& g, const Value* v) {
  return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

Value* const_i32(Graph& g, const std::string& stem, const std::vector<int32_t>& v, bool scalar = false) {
  const ir::Shape shape = scalar ? ir::Shape{} : ir::static_shape(Sizes{static_cast<int64_t>(v.size())});
  return g.add_const(g.unique_name(stem), ir::DType::kInt32, shape,
                     ir::ConstData::own(lower::to_bytes(std::span<const int32_t>(v))));
}

std::vector<int32_t> to_i32(const Sizes& v) { return {v.begin(), v.end()}; }
std::vector<int32_t> to_i32(const std::vector<int>& v) { return {v.begin(), v.end()}; }

void turn_into_reshape(Graph& g, Node& n) {
  const Value* y = n.outputs[0];
  std::vector<int32_t> shape;
  for (const ir::Dim& d : y->shape) shape.push_back(d.is_static() ? static_cast<int32_t>(d.size) : -1);
  n.op = "tfl.RESHAPE";
  n.inputs = {n.inputs[0], const_i32(g, n.name + "_shape", shape)};
}

// TRANSPOSE∘TRANSPOSE, RESHAPE∘RESHAPE, and TRANSPOSEs / RESHAPEs that do nothing. `forks`: also
// a RESHAPE of a RESHAPE that something else reads.
void merge_neighbours(Graph& g, bool forks = false) {
  for (const auto& n : g.nodes()) {
    if (n->op == "tfl.TRANSPOSE" && n->inputs[1]->is_const()) {
      Node* inner = n->inputs[0]->producer;
      std::vector<int> perm = perm_of(*n);
      if (inner && inner->op == "tfl.TRANSPOSE" && inner->inputs[1]->is_const()) {
        // out[i] = mid[perm[i]] = in[inner_perm[perm[i]]]
        const std::vector<int> first = perm_of(*inner);
        for (int& d : perm) d = first[d];
        n->inputs = {inner->inputs[0], const_i32(g, n->name + "_perm", to_i32(perm))};
      }
      Value* x = n->inputs[0];
      if (lower::is_identity(perm) && x->quant == n->outputs[0]->quant && !is_graph_output(g, n->outputs[0])) {
        g.replace_uses(n->outputs[0], x);
        continue;
      }
      // A permutation that keeps the dims of size > 1 in order moves no bytes.
      if (ir::is_fully_static(x->shape) && lower::same_memory_order(x->shape, perm)) turn_into_reshape(g, *n);
    }
    if (n->op == "tfl.RESHAPE") {
      Node* inner = n->inputs[0]->producer;
      // While the other rewrites run, only when nothing else reads the inner RESHAPE: its input
      // would gain a reader, cutting the chains that merge_paths follows.
      if (inner && inner->op == "tfl.RESHAPE" && (forks || g.use_count(n->inputs[0]) == 1))
        n->inputs[0] = inner->inputs[0];
      Value* x = n->inputs[0];
      Value* y = n->outputs[0];
      if (ir::is_fully_static(y->shape) && x->shape == y->shape && x->quant == y->quant && !is_graph_output(g, y))
        g.replace_uses(y, x);
    }
  }
  g.remove_dead();
}

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

Sizes sizes(const Value* v) { return ir::sizes_of(v->shape); }

bool plain_float(const Value* v) {
  return v && v->dtype == ir::DType::kFloat32 && !v->quant && !v->is_const() && ir::is_fully_static(v->shape) &&
         v->rank() >= 1;
}

// One op of a path: data movement (a View), or an op that commutes with data movement.
struct Step {
  enum class Kind { kView, kElementwise, kLastDim } kind;
  Node* node;
  int data = 0;            // the input slot the path flows through
  std::optional<View> view;
  bool needs_last = false;  // kElementwise whose constant varies along the last dim
  bool any_const = false;   // kElementwise with another constant: only whole dims may move
  int64_t last_in = 0, last_out = 0;  // kLastDim: the last dim before and after
};

const std::set<std::string> kUnary = {"tfl.LOGISTIC", "tfl.TANH", "tfl.RELU", "tfl.RELU6", "tfl.RELU_N1_TO_1",
                                      "tfl.GELU", "tfl.HARD_SWISH", "tfl.EXP", "tfl.LOG", "tfl.RSQRT", "tfl.SQRT",
                                      "tfl.SQUARE", "tfl.NEG", "tfl.ABS", "tfl.ELU", "tfl.LEAKY_RELU", "tfl.SIN",
                                      "tfl.COS", "tfl.FLOOR", "tfl.CEIL", "tfl.ROUND"};
const std::set<std::string> kBinary = {"tfl.ADD", "tfl.SUB", "tfl.MUL", "tfl.DIV", "tfl.MAXIMUM", "tfl.MINIMUM",
                                       "tfl.SQUARED_DIFFERENCE"};

// `n` as a path step, or nullopt.
std::optional<Step> as_step(Node* n) {
  if (n->outputs.size() != 1 || !plain_float(n->outputs[0])) return std::nullopt;
  const Value* y = n->outputs[0];
  Step s{Step::Kind::kView, n};
  if (n->op == "tfl.RESHAPE" || n->op == "tfl.TRANSPOSE") {
    const Value* x = n->inputs.at(0);
    if (!plain_float(x)) return std::nullopt;
    if (n->op == "tfl.RESHAPE") {
      s.view = View::reshape(sizes(x), sizes(y));
    } else if (n->inputs.at(1)->is_const()) {
      s.view = View::transpose(sizes(x), perm_of(*n));
    }
    if (!s.view) return std::nullopt;
    return s;
  }
  if (kUnary.count(n->op)) {
    if (n->inputs.size() != 1 || !plain_float(n->inputs[0]) || n->inputs[0]->shape != y->shape) return std::nullopt;
    s.kind = Step::Kind::kElementwise;
    return s;
  }
  if (kBinary.count(n->op)) {
    if (n->inputs.size() != 2) return std::nullopt;
    const int data = n->inputs[0]->is_const() ? 1 : 0;
    const Value* x = n->inputs[data];
    const Value* c = n->inputs[1 - data];
    if (!plain_float(x) || !c->is_const() || x->shape != y->shape || c->dtype != ir::DType::kFloat32 || c->quant)
      return std::nullopt;
    s.kind = Step::Kind::kElementwise;
    s.data = data;
    const Sizes cs = sizes(c), ys = sizes(y);
    if (cs.size() > ys.size() || ir::num_elements(c->shape) == 1) return s;
    // A vector along the last dim (a LayerNorm scale or bias, [1, ..., 1, C]) follows any
    // movement that keeps that dim; another constant follows movement that reorders whole dims.
    s.needs_last = !cs.empty() && cs.back() == ys.back() && ir::num_elements(c->shape) == cs.back();
    s.any_const = !s.needs_last;
    for (size_t i = 0; i < cs.size(); ++i)
      if (cs[i] != 1 && cs[i] != ys[ys.size() - cs.size() + i]) return std::nullopt;
    return s;
  }
  if (n->op == "tfl.FULLY_CONNECTED") {
    const Value* x = n->inputs.at(0);
    const bool const_bias = n->inputs.size() < 3 || !n->inputs[2] || n->inputs[2]->is_const();
    const auto* keep = n->find("keep_num_dims");
    if (!plain_float(x) || !n->inputs.at(1)->is_const() || !const_bias || !keep || !n->get_bool("keep_num_dims") ||
        x->rank() != y->rank())
      return std::nullopt;
    s.kind = Step::Kind::kLastDim;
    s.last_in = x->shape.back().size;
    s.last_out = y->shape.back().size;
    return s;
  }
  if (n->op == "tfl.SOFTMAX") {
    const Value* x = n->inputs.at(0);
    if (!plain_float(x) || x->shape != y->shape) return std::nullopt;
    s.kind = Step::Kind::kLastDim;
    s.last_in = s.last_out = x->shape.back().size;
    return s;
  }
  return std::nullopt;
}

Value* data_in(const Step& s) { return s.node->inputs[s.data]; }

// The longest chain of steps below `v`, each reading the previous value alone.
std::vector<Step> steps_below(const Readers& readers, Value* v) {
  std::vector<Step> steps;
  for (Node* r = readers.only(v); r; r = readers.only(v)) {
    std::optional<Step> s = as_step(r);
    if (!s || data_in(*s) != v) break;
    steps.push_back(*s);
    v = r->outputs[0];
  }
  return steps;
}

int count_transposes(const std::vector<Step>& steps) {
  return static_cast<int>(std::count_if(steps.begin(), steps.end(), [](const Step& s) { return s.node && s.node->op == "tfl.TRANSPOSE"; }));
}

// Moves data movement `v` across compute step `s`: `new_last` is the last dim on the far side.
std::optional<View> commute(const View& v, const Step& s, int64_t new_last) {
  if (s.kind == Step::Kind::kLastDim) return v.with_last_dim(new_last);
  if (s.needs_last) return v.with_last_dim(v.in.back());
  if (s.any_const && !v.dim_permutation()) return std::nullopt;
  return v;
}

std::vector<int> inverse(const std::vector<int>& p) { return lower::inverse(p); }

// A path's data movement gathered at one point: the first `split` compute steps run before `w`
// (on the path's input layout), the others after it (on the output layout).
struct Plan {
  int split = 0;
  View w;
  bool flip = false;
  std::vector<Sizes> compute_in, compute_out;  // per compute step, its shapes in the plan
  std::vector<std::vector<int>> compute_perm;   // per compute step, how its constant moves
};

// Every way of gathering the movement: above[p] moves the views before compute step p down to it
// (computes before p then run on the path's input layout), below[p] moves the views from compute
// step p on up to it. nullopt where a move is impossible.
struct Sweeps {
  std::vector<std::optional<View>> above, below;
  std::vector<Sizes> top_in, top_out, bottom_in, bottom_out;
  std::vector<std::vector<int>> top_perm, bottom_perm;  // any_const steps: the constant's permutation
};

Sweeps sweep(const Sizes& top, const std::vector<Step>& steps, const View& bottom) {
  int q = 0;
  for (const Step& s : steps) q += s.kind != Step::Kind::kView;
  Sweeps sw;
  sw.above.resize(q + 1);
  sw.below.resize(q + 1);
  sw.top_in.resize(q);
  sw.top_out.resize(q);
  sw.bottom_in.resize(q);
  sw.bottom_out.resize(q);
  sw.top_perm.resize(q);
  sw.bottom_perm.resize(q);
  std::optional<View> u = View::identity(top);
  int p = 0;
  for (const Step& s : steps) {
    if (s.kind == Step::Kind::kView) {
      if (u) u = compose(*u, *s.view);
      continue;
    }
    sw.above[p] = u;
    if (u) {
      sw.top_in[p] = u->in;
      // The op now runs before u: its constant is moved back by u.
      if (s.any_const && u->dim_permutation()) sw.top_perm[p] = inverse(*u->dim_permutation());
      u = commute(*u, s, s.last_out);
      if (u) sw.top_out[p] = u->in;
    }
    ++p;
  }
  sw.above[q] = u;
  std::optional<View> d = bottom;
  sw.below[q] = d;
  p = q;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->kind == Step::Kind::kView) {
      if (d) d = compose(*it->view, *d);
      continue;
    }
    --p;
    if (d) {
      sw.bottom_out[p] = d->out;
      // The op now runs after d: its constant moves with d.
      if (it->any_const && d->dim_permutation()) sw.bottom_perm[p] = *d->dim_permutation();
      d = commute(*d, *it, it->last_in);
      if (d) sw.bottom_in[p] = d->out;
    }
    sw.below[p] = d;
  }
  return sw;
}

bool fits(const View& w) { return w.is_reshape() || w.minimal().in.size() <= kMaxTransposeRank; }

View swap_last_two(const Sizes& shape) {
  std::vector<int> perm(shape.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
  return View::transpose(shape, perm);
}

// The best plan for a path: fewest TRANSPOSEs, then the least data moved, then the highest point.
std::optional<Plan> plan_path(const Sizes& top, const std::vector<Step>& steps, const Sizes& bottom, bool flip) {
  const Sweeps sw = sweep(top, steps, flip ? swap_last_two(bottom) : View::identity(bottom));
  std::optional<Plan> best;
  int64_t best_moved = 0;
  for (size_t p = 0; p < sw.above.size(); ++p) {
    if (!sw.above[p] || !sw.below[p]) continue;
    std::optional<View> w = compose(*sw.above[p], *sw.below[p]);
    if (!w || !fits(*w)) continue;
    int64_t moved = 1;
    for (int64_t d : w->in) moved *= d;
    if (best && (w->transposes() > best->w.transposes() ||
                 (w->transposes() == best->w.transposes() && moved >= best_moved)))
      continue;
    best = Plan{static_cast<int>(p), *w, flip, {}, {}};
    best_moved = moved;
  }
  if (!best) return best;
  for (size_t c = 0; c < sw.top_in.size(); ++c) {
    const bool before = static_cast<int>(c) < best->split;
    best->compute_in.push_back(before ? sw.top_in[c] : sw.bottom_in[c]);
    best->compute_out.push_back(before ? sw.top_out[c] : sw.bottom_out[c]);
    best->compute_perm.push_back(before ? sw.top_perm[c] : sw.bottom_perm[c]);
  }
  return best;
}

// The BATCH_MATMUL that reads `v` alone as its right operand, or nullptr.
Node* matmul_reading_rhs(const Readers& readers, const Value* v) {
  Node* r = readers.only(v);
  if (!r || r->op != "tfl.BATCH_MATMUL" || r->inputs.size() != 2 || r->inputs[1] != v || v->rank() < 2) return nullptr;
  return r;
}

// New ops, built in order and inserted together before `pos`; each reads the previous one's
// output unless told otherwise. The last writes `final_value` when there is one.
class Emitter {
 public:
  Emitter(Graph& g, const Node* pos, const Node* like) : g_(g), pos_(pos), like_(like) {}

  void op(const std::string& op, std::vector<Value*> inputs, const Sizes& out, const Node* copy_args = nullptr,
          int data = 0) {
    Pending p{op, std::move(inputs), out, copy_args, data};
    pending_.push_back(std::move(p));
  }
  void reshape(const Sizes& from, const Sizes& to) {
    if (from != to) op("tfl.RESHAPE", {nullptr, const_i32(g_, like_->name + "_shape", to_i32(to))}, to);
  }
  // The ops performing `w` (at most RESHAPE, TRANSPOSE, RESHAPE).
  void view(const View& w) {
    if (w.is_reshape()) return reshape(w.in, w.out);
    const View::Minimal m = w.minimal();
    reshape(w.in, m.in);
    op("tfl.TRANSPOSE", {nullptr, const_i32(g_, like_->name + "_perm", to_i32(m.perm))}, m.out);
    reshape(m.out, w.out);
  }
  bool empty() const { return pending_.empty(); }

  // Inserts the ops reading `input`; returns the last output (`input` when there are none).
  Value* emit(Value* input, Value* final_value) {
    Value* cur = input;
    for (size_t i = 0; i < pending_.size(); ++i) {
      Pending& p = pending_[i];
      auto n = std::make_unique<Node>();
      n->op = p.op;
      n->name = g_.unique_name(p.copy_args ? p.copy_args->name : like_->name);
      n->source = (p.copy_args ? p.copy_args : like_)->source;
      if (p.copy_args) n->args = p.copy_args->args;
      n->inputs = p.inputs;
      n->inputs[p.data] = cur;
      Value* out = i + 1 == pending_.size() && final_value
                       ? final_value
                       : g_.add_value(n->name, cur->dtype, ir::static_shape(p.out));
      PT2_CHECK(sizes(out) == p.out, "view rewrite of " << like_->name << " produced the wrong shape");
      n->outputs = {out};
      g_.insert_node(pos_, std::move(n));
      cur = out;
    }
    pending_.clear();
    return cur;
  }

 private:
  struct Pending {
    std::string op;
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
Value* constant_for_rank(Graph& g, Value* c, size_t rank) {
  if (static_cast<size_t>(c->rank()) <= rank) return c;
  Sizes s = sizes(c);
  while (s.size() > rank) {
    PT2_CHECK(s.front() == 1, "constant " << c->name << " does not broadcast at rank " << rank);
    s.erase(s.begin());
  }
  return g.add_const(g.unique_name(c->name), c->dtype, ir::static_shape(s), *c->data);
}

// A constant operand of an elementwise op moved with its data by dim permutation `perm` (out dim
// i = in dim perm[i]), after padding it with leading 1s to the permutation's rank.
Value* permuted_constant(Graph& g, Value* c, const std::vector<int>& perm) {
  if (lower::is_identity(perm)) return c;
  Sizes s = sizes(c);
  s.insert(s.begin(), perm.size() - s.size(), 1);
  Sizes out;
  for (int d : perm) out.push_back(s[d]);
  std::vector<uint8_t> bytes = lower::permute_bytes(c->data->bytes(), ir::dtype_size(c->dtype), s, perm);
  return g.add_const(g.unique_name(c->name), c->dtype, ir::static_shape(out), ir::ConstData::own(std::move(bytes)));
}

// Queues the compute steps [begin, end) of `steps` with the shapes and constant permutations of
// plan slots [begin, end).
void queue_computes(Graph& g, Emitter& e, const std::vector<Step>& steps, const std::vector<Sizes>& outs,
                    const std::vector<std::vector<int>>& perms, int begin, int end) {
  int c = 0;
  for (const Step& s : steps) {
    if (s.kind == Step::Kind::kView) continue;
    if (c >= begin && c < end) {
      std::vector<Value*> inputs = s.node->inputs;
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (static_cast<int>(i) == s.data || !inputs[i] || s.kind != Step::Kind::kElementwise) continue;
        if (s.any_const) inputs[i] = permuted_constant(g, inputs[i], perms[c]);
        inputs[i] = constant_for_rank(g, inputs[i], outs[c].size());
      }
      e.op(s.node->op, inputs, outs[c], s.node, s.data);
    }
    ++c;
  }
}

// Detaches `v` from the op that wrote it (that op then writes a value nobody reads).
void detach(Graph& g, Value* v) {
  Node* p = v->producer;
  for (Value*& o : p->outputs)
    if (o == v) o = g.add_value(g.unique_name(v->name + "_old"), v->dtype, v->shape);
}

// Rebuilds the path below `top` with its movement gathered as `plan` says. Returns the path's
// last value when it is gone (its readers now read `top`).
Value* rewrite_path(Graph& g, const Readers& readers, Value* top, const std::vector<Step>& steps, const Plan& plan) {
  Node* last = steps.back().node;
  Value* bottom = last->outputs[0];
  Emitter e(g, last, last);
  const int computes = static_cast<int>(plan.compute_out.size());
  queue_computes(g, e, steps, plan.compute_out, plan.compute_perm, 0, plan.split);
  e.view(plan.w);
  queue_computes(g, e, steps, plan.compute_out, plan.compute_perm, plan.split, computes);
  if (plan.flip) {
    Node* mm = matmul_reading_rhs(readers, bottom);
    Value* swapped = e.emit(top, nullptr);
    mm->inputs[1] = swapped;
    mm->set("adj_y", !mm->get_bool("adj_y"));
    return nullptr;
  }
  if (e.empty()) {
    if (!is_graph_output(g, bottom)) {
      g.replace_uses(bottom, top);
      return bottom;
    }
    // A graph output keeps an op of its own.
    e.op("tfl.RESHAPE", {nullptr, const_i32(g, last->name + "_shape", to_i32(sizes(bottom)))}, sizes(bottom));
  }
  detach(g, bottom);
  e.emit(top, bottom);
  return nullptr;
}

// Paths with more TRANSPOSEs than their plan needs. Returns whether any was rebuilt.
bool merge_paths(Graph& g) {
  const Readers readers(g);
  std::vector<std::pair<Value*, std::vector<Step>>> paths;
  for (const auto& n : g.nodes()) {
    std::optional<Step> s = as_step(n.get());
    if (!s) continue;
    Value* x = data_in(*s);
    // Not a start when the op above x is a step that x continues.
    if (readers.only(x) == n.get() && x->producer) {
      std::optional<Step> above = as_step(x->producer);
      if (above) continue;
    }
    std::vector<Step> steps{*s};
    std::vector<Step> rest = steps_below(readers, n->outputs[0]);
    steps.insert(steps.end(), rest.begin(), rest.end());
    if (count_transposes(steps) > 0) paths.emplace_back(x, std::move(steps));
  }
  bool changed = false;
  std::set<const Value*> gone;  // values whose readers moved to another value in this sweep
  for (auto& [top, steps] : paths) {
    if (gone.count(top)) continue;
    Value* bottom = steps.back().node->outputs[0];
    std::optional<Plan> plan = plan_path(sizes(top), steps, sizes(bottom), false);
    if (matmul_reading_rhs(readers, bottom)) {
      std::optional<Plan> flipped = plan_path(sizes(top), steps, sizes(bottom), true);
      if (flipped && (!plan || flipped->w.transposes() < plan->w.transposes())) plan = flipped;
    }
    if (!plan || plan->w.transposes() >= count_transposes(steps)) continue;
    gone.insert(rewrite_path(g, readers, top, steps, *plan));
    changed = true;
  }
  return changed;
}

// ---- Splits ----

struct Branch {
  Value* head;  // the piece
  int64_t index = 0;  // which piece of the split axis (in units of the piece size)
  std::vector<Step> steps;
  Value* end;  // the last value of the steps (head when there are none)
  std::optional<View> plain, flipped;  // the movement of the steps, hoisted to the head
  std::vector<Sizes> plain_out, flipped_out;  // the compute steps' shapes after the hoist
  std::vector<std::vector<int>> plain_perm, flipped_perm;  // and their constants' permutations
};

// The pieces of `x` when every reader of x is one SPLIT or SLICEs along one axis (all the same
// size); sets `axis` and `piece`. Empty otherwise.
std::vector<Branch> pieces_of(const Graph& g, const Readers& readers, Value* x, int& axis, int64_t& piece,
                              Node*& split) {
  std::vector<Branch> out;
  const std::vector<Node*>& rs = readers.of(x);
  if (rs.empty() || is_graph_output(g, x) || !plain_float(x)) return {};
  const Sizes xs = sizes(x);
  split = nullptr;
  if (rs.size() == 1 && rs[0]->op == "tfl.SPLIT") {
    Node* s = rs[0];
    if (s->inputs.size() != 2 || s->inputs[1] != x || !s->inputs[0]->is_const()) return {};
    int64_t a = lower::to_int_vector(*s->inputs[0]).at(0);
    axis = static_cast<int>(a < 0 ? a + x->rank() : a);
    const int64_t n = static_cast<int64_t>(s->outputs.size());
    piece = xs[axis] / n;
    for (int64_t i = 0; i < n; ++i) {
      if (!s->outputs[i] || !plain_float(s->outputs[i])) return {};
      out.push_back(Branch{s->outputs[i], i});
    }
    split = s;
    return out;
  }
  axis = -1;
  for (Node* r : rs) {
    if (r->op != "tfl.SLICE" || r->inputs.size() != 3 || r->inputs[0] != x || !r->inputs[1]->is_const() ||
        !r->inputs[2]->is_const() || !plain_float(r->outputs[0]))
      return {};
    const auto begin = lower::to_int_vector(*r->inputs[1]);
    const Sizes ys = sizes(r->outputs[0]);
    int cut = -1;
    for (int d = 0; d < x->rank(); ++d) {
      if (begin[d] == 0 && ys[d] == xs[d]) continue;
      if (cut >= 0) return {};
      cut = d;
    }
    if (cut < 0 || (axis >= 0 && cut != axis) || (axis >= 0 && ys[cut] != piece) || begin[cut] % ys[cut] != 0)
      return {};
    axis = cut;
    piece = ys[cut];
    out.push_back(Branch{r->outputs[0], begin[cut] / ys[cut]});
  }
  return out.size() >= 2 ? out : std::vector<Branch>{};
}

// The movement `w` of one piece widened to all of x (piece axis `axis` of size n·piece): the new
// atom n goes where the TRANSPOSE stays smallest. Returns the minimal TRANSPOSE of x and, through
// `cut_axis` / `inner`, where the pieces lie in its output.
std::optional<View::Minimal> widen(const View& w, int axis, int64_t n, int& cut_axis, int64_t& inner) {
  int t = 0, first = 0;
  for (int d = 0; d < static_cast<int>(w.in.size()); ++d) {
    if (d == axis) first = t;
    for (int64_t p = 1; p < w.in[d]; p *= w.atoms[t++]) {
    }
  }
  View v;
  v.atoms = w.atoms;
  v.atoms.insert(v.atoms.begin() + first, n);
  std::vector<int> base;
  for (int a : w.perm) base.push_back(a >= first ? a + 1 : a);
  std::optional<View::Minimal> best;
  for (size_t at = 0; at <= base.size(); ++at) {
    v.perm = base;
    v.perm.insert(v.perm.begin() + static_cast<std::ptrdiff_t>(at), first);
    View::Minimal m = v.minimal({first});
    if (!best || m.in.size() < best->in.size()) best = m;
  }
  if (best->in.size() > kMaxTransposeRank) return std::nullopt;
  const int g = static_cast<int>(std::find(best->first_atom.begin(), best->first_atom.end(), first) - best->first_atom.begin());
  cut_axis = static_cast<int>(std::find(best->perm.begin(), best->perm.end(), g) - best->perm.begin());
  inner = best->in[g] / n;
  return best;
}

// Moves the common movement of the pieces of `x` before the split. Returns whether it did.
// `touched` holds the values an earlier rewrite of this sweep rewired (their readers are stale).
bool hoist_split(Graph& g, const Readers& readers, Value* x, std::set<const Value*>& touched) {
  int axis = 0;
  int64_t piece = 0;
  Node* split = nullptr;
  std::vector<Branch> branches = pieces_of(g, readers, x, axis, piece, split);
  if (branches.empty()) return false;
  int before = 0;
  for (Branch& b : branches) {
    b.steps = steps_below(readers, b.head);
    b.end = b.steps.empty() ? b.head : b.steps.back().node->outputs[0];
    before += count_transposes(b.steps);
    const Sizes head = sizes(b.head), end = sizes(b.end);
    // All the movement at the head: the views before the first compute step, then the rest.
    auto at_head = [](const Sweeps& sw) -> std::optional<View> {
      if (!sw.above[0] || !sw.below[0]) return std::nullopt;
      return compose(*sw.above[0], *sw.below[0]);
    };
    const Sweeps sw = sweep(head, b.steps, View::identity(end));
    b.plain = at_head(sw);
    b.plain_out = sw.bottom_out;
    b.plain_perm = sw.bottom_perm;
    if (matmul_reading_rhs(readers, b.end)) {
      const Sweeps f = sweep(head, b.steps, swap_last_two(end));
      b.flipped = at_head(f);
      b.flipped_out = f.bottom_out;
      b.flipped_perm = f.bottom_perm;
    }
  }
  if (before < 2 || touched.count(x)) return false;
  for (const Branch& b : branches)
    if (touched.count(b.head) || touched.count(b.end)) return false;
  // The common movement: one that every piece has, itself or with adj_y toggled.
  std::optional<View> common;
  for (const Branch& c : branches)
    for (const std::optional<View>& cand : {c.plain, c.flipped}) {
      if (!cand || cand->is_reshape() || (common && *common == *cand)) continue;
      const bool all = std::all_of(branches.begin(), branches.end(), [&](const Branch& b) {
        return (b.plain && *b.plain == *cand) || (b.flipped && *b.flipped == *cand);
      });
      if (all && !common) common = cand;
    }
  if (!common) return false;
  const int64_t n = x->shape[axis].size / piece;
  int cut = 0;
  int64_t inner = 0;
  std::optional<View::Minimal> m = widen(*common, axis, n, cut, inner);
  if (!m) return false;

  // The moved tensor, before the first reader of x.
  const Node* first_reader = nullptr;
  for (const auto& node : g.nodes())
    if (std::find(readers.of(x).begin(), readers.of(x).end(), node.get()) != readers.of(x).end()) {
      first_reader = node.get();
      break;
    }
  // New ops are named after (and point at the source of) the first TRANSPOSE they replace.
  const Node* like = [&]() -> const Node* {
    for (const Branch& b : branches)
      for (const Step& s : b.steps)
        if (s.node->op == "tfl.TRANSPOSE") return s.node;
    return branches[0].head->producer;
  }();
  Emitter e(g, first_reader, like);
  e.reshape(sizes(x), m->in);
  e.op("tfl.TRANSPOSE", {nullptr, const_i32(g, like->name + "_perm", to_i32(m->perm))}, m->out);
  Value* moved = e.emit(x, nullptr);

  // The pieces of the moved tensor: one SPLIT when x had one, else a SLICE each.
  Sizes piece_shape = m->out;
  piece_shape[cut] = inner;
  std::vector<Value*> heads;
  if (split) {
    auto s = std::make_unique<Node>();
    s->op = "tfl.SPLIT";
    s->name = g.unique_name(split->name);
    s->source = split->source;
    s->args = split->args;
    s->inputs = {const_i32(g, split->name + "_axis", {cut}, true), moved};
    for (size_t i = 0; i < branches.size(); ++i)
      s->outputs.push_back(g.add_value(g.unique_name(branches[i].head->name), x->dtype, ir::static_shape(piece_shape)));
    heads = s->outputs;
    g.insert_node(first_reader, std::move(s));
  }
  touched.insert(x);
  for (size_t i = 0; i < branches.size(); ++i) {
    Branch& b = branches[i];
    touched.insert(b.head);
    touched.insert(b.end);
    const bool flip = !(b.plain && *b.plain == *common);
    const std::vector<Sizes>& outs = flip ? b.flipped_out : b.plain_out;
    const std::vector<std::vector<int>>& perms = flip ? b.flipped_perm : b.plain_perm;
    Node* pos = b.end->producer;
    Emitter be(g, pos, like);
    Value* head = split ? heads[i] : nullptr;
    if (!split) {
      std::vector<int32_t> begin(m->out.size(), 0);
      begin[cut] = static_cast<int32_t>(b.index * inner);
      be.op("tfl.SLICE", {nullptr, const_i32(g, like->name + "_begin", begin), const_i32(g, like->name + "_size", to_i32(piece_shape))},
            piece_shape);
    }
    be.reshape(piece_shape, common->out);
    int computes = 0;
    for (const Step& s : b.steps) computes += s.kind != Step::Kind::kView;
    queue_computes(g, be, b.steps, outs, perms, 0, computes);
    Value* start = split ? head : moved;
    if (flip) {
      Node* mm = matmul_reading_rhs(readers, b.end);
      mm->inputs[1] = be.emit(start, nullptr);
      mm->set("adj_y", !mm->get_bool("adj_y"));
      continue;
    }
    if (be.empty()) {  // the SPLIT's own output is the piece
      g.replace_uses(b.end, start);
      continue;
    }
    detach(g, b.end);
    be.emit(start, b.end);
  }
  return true;
}

bool hoist_splits(Graph& g) {
  const Readers readers(g);
  std::vector<Value*> candidates;
  std::set<const Value*> seen;
  for (const auto& n : g.nodes()) {
    Value* x = nullptr;
    if (n->op == "tfl.SPLIT" && n->inputs.size() == 2) x = n->inputs[1];
    if (n->op == "tfl.SLICE" && !n->inputs.empty()) x = n->inputs[0];
    if (x && seen.insert(x).second) candidates.push_back(x);
  }
  bool changed = false;
  std::set<const Value*> touched;
  for (Value* x : candidates) changed |= hoist_split(g, readers, x, touched);
  return changed;
}

// ---- Junctions ----

// A binary elementwise op of two activations shaped like its output (no broadcasting).
bool is_junction(const Node* n) {
  if (!kBinary.count(n->op) || n->inputs.size() != 2 || n->outputs.size() != 1) return false;
  const Value* z = n->outputs[0];
  return plain_float(z) && n->inputs[0] != n->inputs[1] && plain_float(n->inputs[0]) && plain_float(n->inputs[1]) &&
         n->inputs[0]->shape == z->shape && n->inputs[1]->shape == z->shape;
}

// The steps ending at `v` (which `reader` alone reads), from the highest; `top` is their input.
std::vector<Step> steps_above(const Readers& readers, Value* v, const Node* reader, Value*& top) {
  std::vector<Step> steps;
  top = v;
  while (top->producer && readers.only(top) == reader) {
    std::optional<Step> s = as_step(top->producer);
    if (!s) break;
    steps.insert(steps.begin(), *s);
    reader = s->node;
    top = data_in(*s);
  }
  return steps;
}

// TRANSPOSEs a path needs at best with movement `w` appended.
int transposes_with(const Sizes& top, std::vector<Step> steps, const View& w) {
  steps.push_back(Step{Step::Kind::kView, nullptr, 0, w});
  std::optional<Plan> plan = plan_path(top, steps, w.out, false);
  return plan ? plan->w.transposes() : count_transposes(steps) + 1;
}

// When the movement after a junction (an ADD of a residual, say) costs more than doing it on both
// inputs, where it may merge with their own movement, moves it there. Returns whether it did.
// `touched` holds the ops an earlier rewrite of this sweep changed (their readers are stale).
bool hoist_through_junction(Graph& g, const Readers& readers, Node* add, std::set<const Node*>& touched) {
  if (!is_junction(add)) return false;
  Value* z = add->outputs[0];
  std::vector<Step> below = steps_below(readers, z);
  if (below.empty()) return false;
  Value* end = below.back().node->outputs[0];
  const Sweeps sw = sweep(sizes(z), below, View::identity(sizes(end)));
  if (!sw.above[0] || !sw.below[0]) return false;
  std::optional<View> d = compose(*sw.above[0], *sw.below[0]);
  if (!d || d->is_reshape() || !fits(*d)) return false;
  int before = count_transposes(below), after = 0;
  std::vector<Value*> tops(2);
  for (int i = 0; i < 2; ++i) {
    std::vector<Step> above = steps_above(readers, add->inputs[i], add, tops[i]);
    before += count_transposes(above);
    after += transposes_with(sizes(tops[i]), above, *d);
  }
  if (after >= before) return false;
  std::vector<const Node*> involved{add};
  for (const Step& s : below) involved.push_back(s.node);
  for (const Node* r : readers.of(end)) involved.push_back(r);
  for (int i = 0; i < 2; ++i)
    for (const Value* v = add->inputs[i]; v; v = v == tops[i] ? nullptr : data_in(*as_step(v->producer)))
      if (v->producer) involved.push_back(v->producer);
  for (const Node* n : involved)
    if (touched.count(n)) return false;
  touched.insert(involved.begin(), involved.end());
  for (int i = 0; i < 2; ++i) {
    Emitter e(g, add, add);
    e.view(*d);
    add->inputs[i] = e.emit(add->inputs[i], nullptr);
  }
  // The ops below now run on the moved tensor, and the movement is gone from there.
  Emitter e(g, below.back().node, add);
  queue_computes(g, e, below, sw.bottom_out, sw.bottom_perm, 0, static_cast<int>(sw.bottom_out.size()));
  detach(g, end);
  if (e.empty()) {
    add->outputs[0] = end;
    end->producer = add;
    return true;
  }
  Value* moved = g.add_value(g.unique_name(z->name), z->dtype, ir::static_shape(d->out));
  moved->producer = add;
  add->outputs[0] = moved;
  e.emit(moved, end);
  return true;
}

bool hoist_through_junctions(Graph& g) {
  const Readers readers(g);
  std::vector<Node*> junctions;
  for (const auto& n : g.nodes())
    if (is_junction(n.get())) junctions.push_back(n.get());
  bool changed = false;
  std::set<const Node*> touched;
  for (Node* add : junctions) changed |= hoist_through_junction(g, readers, add, touched);
  return changed;
}

// ---- The layout of a value with several readers ----

// The steps that end at `v` (whoever reads v), from the highest; `top` is their input.
std::vector<Step> steps_ending_at(const Readers& readers, Value* v, Value*& top) {
  top = v;
  if (!v->producer) return {};
  std::optional<Step> last = as_step(v->producer);
  if (!last) return {};
  std::vector<Step> steps = steps_above(readers, data_in(*last), last->node, top);
  steps.push_back(*last);
  return steps;
}

// TRANSPOSEs a path needs at best with movement `w` prepended.
int transposes_after(const View& w, std::vector<Step> steps) {
  steps.insert(steps.begin(), Step{Step::Kind::kView, nullptr, 0, w});
  const Sizes bottom = steps.back().node ? sizes(steps.back().node->outputs[0]) : w.out;
  std::optional<Plan> plan = plan_path(w.in, steps, bottom, false);
  return plan ? plan->w.transposes() : count_transposes(steps) + 1;
}

// One reader of a value `v` that may change layout, and what its TRANSPOSEs would be.
struct Reader {
  Node* node;
  int before = 0, after = 0;
  bool junction = false;
  int slot = 0;  // junction: the input slot reading v
};

// The cost at reader `r` of storing v as l(v) (l reorders whole dims): r then reads l⁻¹ of it.
// A step starts a path that l⁻¹ joins; a junction runs on the moved layout (its other input gets
// l, its output l⁻¹); anything else reads l⁻¹ as one more TRANSPOSE.
Reader reader_cost(const Readers& readers, const Value* v, Node* r, const View& l, const View& back) {
  Reader c{r};
  std::optional<Step> s = as_step(r);
  if (s && data_in(*s) == v) {
    std::vector<Step> steps{*s};
    std::vector<Step> rest = steps_below(readers, r->outputs[0]);
    steps.insert(steps.end(), rest.begin(), rest.end());
    c.before = count_transposes(steps);
    c.after = transposes_after(back, steps);
    return c;
  }
  if (is_junction(r)) {
    c.junction = true;
    c.slot = r->inputs[0] == v ? 0 : 1;
    Value* top = nullptr;
    std::vector<Step> other = steps_above(readers, r->inputs[1 - c.slot], r, top);
    std::vector<Step> below = steps_below(readers, r->outputs[0]);
    c.before = count_transposes(other) + count_transposes(below);
    c.after = transposes_with(sizes(top), other, l) + (below.empty() ? 1 : transposes_after(back, below));
    return c;
  }
  c.after = 1;
  return c;
}

// The node after `n` in the graph's order (nullptr: n is last).
const Node* next_node(const Graph& g, const Node* n) {
  const auto& nodes = g.nodes();
  for (size_t i = 0; i + 1 < nodes.size(); ++i)
    if (nodes[i].get() == n) return nodes[i + 1].get();
  return nullptr;
}

// Stores `v` in another order when its producer and readers then need fewer TRANSPOSEs in all
// (torchvision maxvit: a window reverse into NCHW, read by an MBConv that wants NHWC and by the
// residual ADD of that MBConv's NHWC output). Returns whether it did.
bool relayout(Graph& g, const Readers& readers, Value* v, std::set<const Node*>& touched) {
  if (!plain_float(v) || is_graph_output(g, v) || touched.count(v->producer)) return false;
  const std::vector<Node*>& rs = readers.of(v);
  if (rs.empty()) return false;
  for (size_t i = 1; i < rs.size(); ++i)
    if (std::find(rs.begin(), rs.begin() + i, rs[i]) != rs.begin() + i) return false;  // read twice
  // Candidates: the movement each reader's path would do first.
  std::vector<View> candidates;
  for (Node* r : rs) {
    std::optional<Step> s = as_step(r);
    if (!s || data_in(*s) != v) continue;
    std::vector<Step> steps{*s};
    std::vector<Step> rest = steps_below(readers, r->outputs[0]);
    steps.insert(steps.end(), rest.begin(), rest.end());
    if (count_transposes(steps) == 0) continue;
    const Sweeps sw = sweep(sizes(v), steps, View::identity(sizes(steps.back().node->outputs[0])));
    if (!sw.above[0] || !sw.below[0]) continue;
    std::optional<View> head = compose(*sw.above[0], *sw.below[0]);
    std::optional<std::vector<int>> p = head ? head->dim_permutation() : std::nullopt;
    if (p && !head->is_reshape() && fits(*head)) candidates.push_back(View::transpose(sizes(v), *p));
  }
  Value* top = nullptr;
  const std::vector<Step> above = steps_ending_at(readers, v, top);
  const int above_before = count_transposes(above);
  int best_gain = 0;
  std::optional<View> best;
  std::vector<Reader> best_readers;
  for (const View& l : candidates) {
    const View back = View::transpose(l.out, inverse(*l.dim_permutation()));
    int before = above_before, after = transposes_with(sizes(top), above, l);
    std::vector<Reader> costs;
    for (Node* r : rs) {
      costs.push_back(reader_cost(readers, v, r, l, back));
      before += costs.back().before;
      after += costs.back().after;
    }
    if (before - after > best_gain) {
      best_gain = before - after;
      best = l;
      best_readers = costs;
    }
  }
  if (!best) return false;
  std::vector<const Node*> involved{v->producer};
  for (const Step& s : above) involved.push_back(s.node);
  for (const Reader& r : best_readers) {
    involved.push_back(r.node);
    for (const Value* o : r.node->outputs)
      for (const Node* rr : readers.of(o)) involved.push_back(rr);
    if (r.junction) {
      const Value* y = r.node->inputs[1 - r.slot];
      if (y->producer) involved.push_back(y->producer);
    }
  }
  for (const Node* n : involved)
    if (n && touched.count(n)) return false;
  touched.insert(involved.begin(), involved.end());

  const View& l = *best;
  const View back = View::transpose(l.out, inverse(*l.dim_permutation()));
  // v' = l(v), before v's first reader; each reader reads l⁻¹(v') (the paths merge them later).
  const Node* first = nullptr;
  for (const auto& n : g.nodes())
    if (std::find(rs.begin(), rs.end(), n.get()) != rs.end()) {
      first = n.get();
      break;
    }
  Emitter e(g, first, first);
  e.view(l);
  Value* moved = e.emit(v, nullptr);
  for (const Reader& r : best_readers) {
    Node* n = r.node;
    if (!r.junction) {
      Emitter b(g, n, n);
      b.view(back);
      Value* restored = b.emit(moved, nullptr);
      for (Value*& in : n->inputs)
        if (in == v) in = restored;
      continue;
    }
    Emitter o(g, n, n);
    o.view(l);
    n->inputs[1 - r.slot] = o.emit(n->inputs[1 - r.slot], nullptr);
    n->inputs[r.slot] = moved;
    Value* z = n->outputs[0];
    Value* z_moved = g.add_value(g.unique_name(z->name), z->dtype, ir::static_shape(l.out));
    n->outputs[0] = z_moved;
    z_moved->producer = n;
    Emitter after(g, next_node(g, n), n);
    after.view(back);
    after.emit(z_moved, z);
  }
  return true;
}

bool relayouts(Graph& g) {
  const Readers readers(g);
  std::vector<Value*> values;
  for (const auto& n : g.nodes())
    for (Value* o : n->outputs)
      if (o && readers.of(o).size() >= 2) values.push_back(o);
  bool changed = false;
  std::set<const Node*> touched;
  for (Value* v : values) changed |= relayout(g, readers, v, touched);
  return changed;
}

}  // namespace

void simplify_transposes(Graph& g) {
  merge_neighbours(g);
  // Each round only removes TRANSPOSEs, so this ends; the bound is a guard.
  for (int round = 0; round < 32; ++round) {
    bool changed = hoist_splits(g);
    if (changed) merge_neighbours(g);
    changed |= merge_paths(g);
    merge_neighbours(g);
    changed |= hoist_through_junctions(g);
    merge_neighbours(g);
    changed |= relayouts(g);
    merge_neighbours(g);
    if (!changed) break;
  }
  merge_neighbours(g, true);
}

}  // namespace pt2tflite::passes
