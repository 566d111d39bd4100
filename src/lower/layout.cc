#include "lower/layout.h"

#include <numeric>

#include "util/check.h"

namespace pt2tflite::lower {

Perm identity_perm(int rank) {
  Perm p(rank);
  std::iota(p.begin(), p.end(), 0);
  return p;
}

Perm channels_last_perm(int rank) {
  PT2_CHECK(rank >= 3, "channels-last needs rank >= 3, got " << rank);
  Perm p{0};
  for (int d = 2; d < rank; ++d) p.push_back(d);
  p.push_back(1);
  return p;
}

Perm inverse(const Perm& p) {
  Perm inv(p.size());
  for (size_t i = 0; i < p.size(); ++i) inv[p[i]] = static_cast<int>(i);
  return inv;
}

bool is_identity(const Perm& p) {
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] != static_cast<int>(i)) return false;
  return true;
}

Perm normalized(const Perm& p, int rank) {
  if (p.empty() || is_identity(p)) return {};
  PT2_CHECK(static_cast<int>(p.size()) == rank, "layout of rank " << p.size() << " on a rank-" << rank << " value");
  return p;
}

ir::Shape physical_shape(const ir::Shape& logical, const Perm& layout) {
  if (layout.empty()) return logical;
  ir::Shape out;
  for (int d : layout) out.push_back(logical.at(d));
  return out;
}

Perm transpose_between(const Perm& from, const Perm& to, int rank) {
  Perm f = from.empty() ? identity_perm(rank) : from;
  Perm t = to.empty() ? identity_perm(rank) : to;
  Perm finv = inverse(f);
  Perm out(rank);
  for (int i = 0; i < rank; ++i) out[i] = finv[t[i]];
  return out;
}

bool same_memory_order(const ir::Shape& logical, const Perm& layout) {
  int last = -1;
  for (int d : layout) {
    if (logical.at(d).is_static() && logical.at(d).size == 1) continue;
    if (d < last) return false;
    last = d;
  }
  return true;
}

}  // namespace pt2tflite::lower
