#include "passes/transpose/transpose_paths.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "ir/constants.h"
#include "ir/layout.h"
#include "util/check.h"

namespace pt2tflite::passes::paths {

std::vector<int> perm_of(const Node& t) {
  const auto p = ir::to_int_vector(*t.inputs.at(1));
  return {p.begin(), p.end()};
}

bool is_graph_output(const Graph& g, const Value* v) {
  return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

Value* const_i32(Graph& g, const std::string& stem, const std::vector<int32_t>& v, bool scalar) {
  const ir::Shape shape = scalar ? ir::Shape{} : ir::static_shape(Sizes{static_cast<int64_t>(v.size())});
  return g.add_const(g.unique_name(stem), ir::DType::kInt32, shape,
                     ir::ConstData::own(ir::to_bytes(std::span<const int32_t>(v))));
}

std::vector<int32_t> to_i32(const Sizes& v) { return {v.begin(), v.end()}; }
std::vector<int32_t> to_i32(const std::vector<int>& v) { return {v.begin(), v.end()}; }

Sizes sizes(const Value* v) { return ir::sizes_of(v->shape); }

bool plain_float(const Value* v) {
  return v && v->dtype == ir::DType::kFloat32 && !v->quant && !v->is_const() && ir::is_fully_static(v->shape) &&
         v->rank() >= 1;
}

namespace {

// Per-element math on one tensor: a transpose moves through it unchanged.
bool is_unary_step(const Node* n) { return ir::is_elementwise_unary(*n) && ir::is_layout_agnostic(*n); }
// ADD SUB MUL DIV MAXIMUM MINIMUM: a transpose moves through them when the other operand is a
// constant that moves along (or a junction of two activations).
bool is_binary_step(const Node* n) { return ir::is_arithmetic_binary(*n); }

}  // namespace

// `n` as a path step, or nullopt.
std::optional<Step> as_step(Node* n) {
  if (n->outputs.size() != 1 || !plain_float(n->outputs[0])) return std::nullopt;
  const Value* y = n->outputs[0];
  Step s{Step::Kind::kView, n};
  if (n->is(ir::TflOp::RESHAPE) || n->is(ir::TflOp::TRANSPOSE)) {
    const Value* x = n->inputs.at(0);
    if (!plain_float(x)) return std::nullopt;
    if (n->is(ir::TflOp::RESHAPE)) {
      s.view = View::reshape(sizes(x), sizes(y));
    } else if (n->inputs.at(1)->is_const()) {
      s.view = View::transpose(sizes(x), perm_of(*n));
    }
    if (!s.view) return std::nullopt;
    return s;
  }
  if (is_unary_step(n)) {
    if (n->inputs.size() != 1 || !plain_float(n->inputs[0]) || n->inputs[0]->shape != y->shape) return std::nullopt;
    s.kind = Step::Kind::kElementwise;
    return s;
  }
  if (is_binary_step(n)) {
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
  if (n->is(ir::TflOp::FULLY_CONNECTED)) {
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
  if (n->is(ir::TflOp::SOFTMAX)) {
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
  return static_cast<int>(std::count_if(steps.begin(), steps.end(),
                                        [](const Step& s) { return s.node && s.node->is(ir::TflOp::TRANSPOSE); }));
}

// Moves data movement `v` across compute step `s`: `new_last` is the last dim on the far side.
std::optional<View> commute(const View& v, const Step& s, int64_t new_last) {
  if (s.kind == Step::Kind::kLastDim) return v.with_last_dim(new_last);
  if (s.needs_last) return v.with_last_dim(v.in.back());
  if (s.any_const && !v.dim_permutation()) return std::nullopt;
  return v;
}

std::vector<int> inverse(const std::vector<int>& p) { return ir::inverse(p); }

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
    if (best &&
        (w->transposes() > best->w.transposes() || (w->transposes() == best->w.transposes() && moved >= best_moved)))
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
  if (!r || !r->is(ir::TflOp::BATCH_MATMUL) || r->inputs.size() != 2 || r->inputs[1] != v || v->rank() < 2)
    return nullptr;
  return r;
}

void Emitter::view(const View& w) {
  if (w.is_reshape()) return reshape(w.in, w.out);
  const View::Minimal m = w.minimal();
  reshape(w.in, m.in);
  op(ir::TflOp::TRANSPOSE, {nullptr, const_i32(g_, like_->name + "_perm", to_i32(m.perm))}, m.out);
  reshape(m.out, w.out);
}

Value* Emitter::emit(Value* input, Value* final_value) {
  Value* cur = input;
  for (size_t i = 0; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    auto n = std::make_unique<Node>();
    n->set_op(p.op);
    n->name = g_.unique_name(p.copy_args ? p.copy_args->name : like_->name);
    n->source = (p.copy_args ? p.copy_args : like_)->source;
    if (p.copy_args) n->args = p.copy_args->args;
    n->inputs = p.inputs;
    n->inputs[p.data] = cur;
    Value* out = i + 1 == pending_.size() && final_value ? final_value
                                                         : g_.add_value(n->name, cur->dtype, ir::static_shape(p.out));
    PT2_CHECK(sizes(out) == p.out, "view rewrite of " << like_->name << " produced the wrong shape");
    n->outputs = {out};
    g_.insert_node(pos_, std::move(n));
    cur = out;
  }
  pending_.clear();
  return cur;
}

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
  if (ir::is_identity(perm)) return c;
  Sizes s = sizes(c);
  s.insert(s.begin(), perm.size() - s.size(), 1);
  Sizes out;
  for (int d : perm) out.push_back(s[d]);
  std::vector<uint8_t> bytes = ir::permute_bytes(c->data->bytes(), ir::dtype_size(c->dtype), s, perm);
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
      e.op(*ir::tfl_op(*s.node), inputs, outs[c], s.node, s.data);
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

// A binary elementwise op of two activations shaped like its output (no broadcasting).
bool is_junction(const Node* n) {
  if (!is_binary_step(n) || n->inputs.size() != 2 || n->outputs.size() != 1) return false;
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

}  // namespace pt2tflite::passes::paths
