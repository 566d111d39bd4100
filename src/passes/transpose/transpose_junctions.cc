// simplify_transposes, junctions and layouts: the movement after a residual ADD moves into both
// its inputs when they then need fewer TRANSPOSEs, and a value with several readers is stored in
// the order that needs the fewest TRANSPOSEs at its producer and readers together.
#include <algorithm>
#include <set>

#include "passes/transpose/transpose_paths.h"

namespace pt2tflite::passes::paths {
namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace pt2tflite::passes::paths
