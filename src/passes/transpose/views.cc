#include "passes/transpose/views.h"

#include <algorithm>
#include <numeric>

namespace pt2tflite::passes {
namespace {

std::vector<int64_t> non_unit(const std::vector<int64_t>& shape) {
  std::vector<int64_t> out;
  for (int64_t d : shape)
    if (d != 1) out.push_back(d);
  return out;
}

int64_t product(const std::vector<int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), int64_t{1}, std::multiplies<>());
}

// The pieces that refine two factorizations of one flattened index (outermost first, sizes > 1,
// equal products): the union of both sequences of running products, which must be a chain of
// divisors. first_a[i] is the first piece of a[i]; first_a.back() is the number of pieces.
struct Refinement {
  std::vector<int64_t> pieces;
  std::vector<int> first_a, first_b;
};

std::optional<Refinement> refine(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (product(a) != product(b)) return std::nullopt;
  auto running = [](const std::vector<int64_t>& v) {
    std::vector<int64_t> r;
    int64_t p = 1;
    for (int64_t d : v) r.push_back(p *= d);
    return r;
  };
  const std::vector<int64_t> ra = running(a), rb = running(b);
  std::vector<int64_t> all(ra);
  all.insert(all.end(), rb.begin(), rb.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  Refinement r;
  int64_t prev = 1;
  for (int64_t p : all) {
    if (p % prev != 0) return std::nullopt;
    r.pieces.push_back(p / prev);
    prev = p;
  }
  auto firsts = [&](const std::vector<int64_t>& run) {
    std::vector<int> f{0};
    for (int64_t p : run) f.push_back(static_cast<int>(std::find(all.begin(), all.end(), p) - all.begin()) + 1);
    return f;
  };
  r.first_a = firsts(ra);
  r.first_b = firsts(rb);
  return r;
}

std::vector<int> inverse(const std::vector<int>& p) {
  std::vector<int> inv(p.size());
  for (size_t i = 0; i < p.size(); ++i) inv[p[i]] = static_cast<int>(i);
  return inv;
}

}  // namespace

View View::identity(const std::vector<int64_t>& shape) {
  View v;
  v.in = v.out = shape;
  v.atoms = non_unit(shape);
  v.perm.resize(v.atoms.size());
  std::iota(v.perm.begin(), v.perm.end(), 0);
  return v;
}

std::optional<View> View::reshape(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  if (product(in) == 0 || product(in) != product(out)) return std::nullopt;
  std::optional<Refinement> r = refine(non_unit(in), non_unit(out));
  if (!r) return std::nullopt;
  View v;
  v.in = in;
  v.out = out;
  v.atoms = r->pieces;
  v.perm.resize(v.atoms.size());
  std::iota(v.perm.begin(), v.perm.end(), 0);
  return v;
}

View View::transpose(const std::vector<int64_t>& in, const std::vector<int>& perm) {
  View v;
  v.in = in;
  std::vector<int> atom_of(in.size(), -1);
  for (size_t d = 0; d < in.size(); ++d)
    if (in[d] != 1) {
      atom_of[d] = static_cast<int>(v.atoms.size());
      v.atoms.push_back(in[d]);
    }
  for (int d : perm) {
    v.out.push_back(in[d]);
    if (atom_of[d] >= 0) v.perm.push_back(atom_of[d]);
  }
  return v;
}

View::Minimal View::minimal(const std::vector<int>& no_merge_before) const {
  const std::vector<int> pos = inverse(perm);  // output position of each input atom
  std::vector<std::pair<int, int>> groups;     // [begin, end) of atoms, in input order
  for (int t = 0; t < static_cast<int>(atoms.size()); ++t) {
    const bool split = std::find(no_merge_before.begin(), no_merge_before.end(), t) != no_merge_before.end();
    if (!groups.empty() && !split && pos[t] == pos[t - 1] + 1)
      groups.back().second = t + 1;
    else
      groups.emplace_back(t, t + 1);
  }
  Minimal m;
  for (const auto& [b, e] : groups) {
    m.in.push_back(product({atoms.begin() + b, atoms.begin() + e}));
    m.first_atom.push_back(b);
  }
  m.perm.resize(groups.size());
  std::iota(m.perm.begin(), m.perm.end(), 0);
  std::sort(m.perm.begin(), m.perm.end(), [&](int x, int y) { return pos[groups[x].first] < pos[groups[y].first]; });
  for (int g : m.perm) m.out.push_back(m.in[g]);
  return m;
}

bool View::is_reshape() const {
  for (size_t j = 1; j < perm.size(); ++j)
    if (perm[j] < perm[j - 1]) return false;
  return true;
}

std::optional<View> View::with_last_dim(int64_t n) const {
  if (in.empty() || out.empty() || in.back() != out.back() || n < 1) return std::nullopt;
  const int k = static_cast<int>(atoms.size());
  int m = 0;
  for (int64_t p = 1; p < in.back(); ++m) p *= atoms[k - 1 - m];
  for (int i = 0; i < m; ++i)
    if (perm[k - m + i] != k - m + i) return std::nullopt;
  View v;
  v.in = in;
  v.out = out;
  v.in.back() = v.out.back() = n;
  v.atoms.assign(atoms.begin(), atoms.end() - m);
  v.perm.assign(perm.begin(), perm.end() - m);
  if (n > 1) {
    v.atoms.push_back(n);
    v.perm.push_back(k - m);
  }
  return v;
}

std::optional<std::vector<int>> View::dim_permutation() const {
  if (in.size() != out.size()) return std::nullopt;
  // [first, end) of the atoms of each dim, over `seq` (input order or output order).
  auto ranges = [](const std::vector<int64_t>& shape, const std::vector<int64_t>& seq) {
    std::vector<std::pair<int, int>> r;
    int t = 0;
    for (int64_t d : shape) {
      const int first = t;
      for (int64_t p = 1; p < d; p *= seq[t++]) {}
      r.emplace_back(first, t);
    }
    return r;
  };
  std::vector<int64_t> out_atoms;
  for (int t : perm) out_atoms.push_back(atoms[t]);
  const auto in_r = ranges(in, atoms), out_r = ranges(out, out_atoms);
  std::vector<int> p(out.size(), -1);
  std::vector<bool> used(in.size(), false);
  for (size_t j = 0; j < out.size(); ++j) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const auto b = out_r[j].first, e = out_r[j].second;
    if (b == e) continue;
    const auto d = std::find_if(in_r.begin(), in_r.end(),
                                [&](const auto& r) { return r.first == perm[b] && r.second > r.first; }) -
                   in_r.begin();
    if (d == static_cast<std::ptrdiff_t>(in.size()) || in_r[d].second - in_r[d].first != e - b) return std::nullopt;
    for (int k = 0; k < e - b; ++k)
      if (perm[b + k] != perm[b] + k) return std::nullopt;
    p[j] = static_cast<int>(d);
    used[d] = true;
  }
  size_t next = 0;  // size-1 dims keep their relative order
  for (size_t j = 0; j < out.size(); ++j) {
    if (p[j] >= 0) continue;
    while (next < in.size() && (used[next] || in[next] != 1)) ++next;
    if (next == in.size()) return std::nullopt;
    p[j] = static_cast<int>(next);
    used[next] = true;
  }
  return p;
}

bool View::operator==(const View& o) const {
  if (in != o.in || out != o.out) return false;
  const Minimal a = minimal(), b = o.minimal();
  return a.in == b.in && a.perm == b.perm;
}

std::optional<View> compose(const View& first, const View& second) {
  if (first.out != second.in) return std::nullopt;
  std::vector<int64_t> u;  // first's atoms in output order
  for (int t : first.perm) u.push_back(first.atoms[t]);
  std::optional<Refinement> r = refine(u, second.atoms);
  if (!r) return std::nullopt;
  const std::vector<int> out_pos = inverse(first.perm);
  std::vector<int> in_pos(r->pieces.size());  // input-order index of each piece
  View v;
  v.in = first.in;
  v.out = second.out;
  for (size_t t = 0; t < first.atoms.size(); ++t) {
    const int j = out_pos[t];
    for (int p = r->first_a[j]; p < r->first_a[j + 1]; ++p) {
      in_pos[p] = static_cast<int>(v.atoms.size());
      v.atoms.push_back(r->pieces[p]);
    }
  }
  for (int i : second.perm)
    for (int p = r->first_b[i]; p < r->first_b[i + 1]; ++p) v.perm.push_back(in_pos[p]);
  return v;
}

}  // namespace pt2tflite::passes
