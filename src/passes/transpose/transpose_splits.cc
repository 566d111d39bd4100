// simplify_transposes, splits: when every piece of a SPLIT (or of SLICEs along one axis) goes
// through the same data movement, possibly with adj_y (attention's q, k and v after the qkv
// projection), the movement happens once, before the split, which then cuts the moved axis.
#include <algorithm>
#include <set>

#include "ir/constants.h"
#include "passes/transpose/transpose_paths.h"

namespace pt2tflite::passes::paths {
namespace {

struct Branch {
  Value* head;        // the piece
  int64_t index = 0;  // which piece of the split axis (in units of the piece size)
  std::vector<Step> steps = {};
  Value* end = nullptr;  // the last value of the steps (head when there are none)
  std::optional<View> plain = std::nullopt, flipped = std::nullopt;  // the movement of the steps, hoisted to the head
  std::vector<Sizes> plain_out = {}, flipped_out = {};               // the compute steps' shapes after the hoist
  std::vector<std::vector<int>> plain_perm = {}, flipped_perm = {};  // and their constants' permutations
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
  if (rs.size() == 1 && rs[0]->is(ir::TflOp::SPLIT)) {
    Node* s = rs[0];
    if (s->inputs.size() != 2 || s->inputs[1] != x || !s->inputs[0]->is_const()) return {};
    int64_t a = ir::to_int_vector(*s->inputs[0]).at(0);
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
    if (!r->is(ir::TflOp::SLICE) || r->inputs.size() != 3 || r->inputs[0] != x || !r->inputs[1]->is_const() ||
        !r->inputs[2]->is_const() || !plain_float(r->outputs[0]))
      return {};
    const auto begin = ir::to_int_vector(*r->inputs[1]);
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
    for (int64_t p = 1; p < w.in[d]; p *= w.atoms[t++]) {}
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
  const int g =
      static_cast<int>(std::find(best->first_atom.begin(), best->first_atom.end(), first) - best->first_atom.begin());
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
        if (s.node->is(ir::TflOp::TRANSPOSE)) return s.node;
    return branches[0].head->producer;
  }();
  Emitter e(g, first_reader, like);
  e.reshape(sizes(x), m->in);
  e.op(ir::TflOp::TRANSPOSE, {nullptr, const_i32(g, like->name + "_perm", to_i32(m->perm))}, m->out);
  Value* moved = e.emit(x, nullptr);

  // The pieces of the moved tensor: one SPLIT when x had one, else a SLICE each.
  Sizes piece_shape = m->out;
  piece_shape[cut] = inner;
  std::vector<Value*> heads;
  if (split) {
    auto s = std::make_unique<Node>();
    s->set_op(ir::TflOp::SPLIT);
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
      be.op(ir::TflOp::SLICE,
            {nullptr, const_i32(g, like->name + "_begin", begin),
             const_i32(g, like->name + "_size", to_i32(piece_shape))},
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

}  // namespace

bool hoist_splits(Graph& g) {
  const Readers readers(g);
  std::vector<Value*> candidates;
  std::set<const Value*> seen;
  for (const auto& n : g.nodes()) {
    Value* x = nullptr;
    if (n->is(ir::TflOp::SPLIT) && n->inputs.size() == 2) x = n->inputs[1];
    if (n->is(ir::TflOp::SLICE) && !n->inputs.empty()) x = n->inputs[0];
    if (x && seen.insert(x).second) candidates.push_back(x);
  }
  bool changed = false;
  std::set<const Value*> touched;
  for (Value* x : candidates) changed |= hoist_split(g, readers, x, touched);
  return changed;
}

}  // namespace pt2tflite::passes::paths
