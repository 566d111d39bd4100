#include "ir/layout.h"

#include <algorithm>
#include <numeric>

#include "util/check.h"

namespace pt2tflite::ir {

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

Shape physical_shape(const Shape& logical, const Perm& layout) {
  if (layout.empty()) return logical;
  Shape out;
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

bool same_memory_order(const Shape& logical, const Perm& layout) {
  int last = -1;
  for (int d : layout) {
    if (logical.at(d).is_static() && logical.at(d).size == 1) continue;
    if (d < last) return false;
    last = d;
  }
  return true;
}

std::optional<Perm> reshape_layout(const std::vector<int64_t>& in, const Perm& layout,
                                   const std::vector<int64_t>& out) {
  const int in_rank = static_cast<int>(in.size()), out_rank = static_cast<int>(out.size());
  const Perm stored = layout.empty() ? identity_perm(in_rank) : layout;
  // Runs: the smallest groups of input dims and output dims of size > 1 with equal products.
  std::vector<int> in_run(in_rank, -1);
  std::vector<std::vector<int>> run_out;
  int i = 0, o = 0;
  auto skip_ones = [](const std::vector<int64_t>& s, int& k) {
    while (k < static_cast<int>(s.size()) && s[k] == 1) ++k;
  };
  for (skip_ones(in, i), skip_ones(out, o); i < in_rank || o < out_rank; skip_ones(in, i), skip_ones(out, o)) {
    if (i >= in_rank || o >= out_rank) return std::nullopt;  // element counts differ (e.g. size-0 dims)
    const int run = static_cast<int>(run_out.size());
    run_out.emplace_back();
    int64_t pin = in[i], pout = out[o];
    in_run[i++] = run;
    run_out[run].push_back(o++);
    while (pin != pout) {
      if (pin < pout) {
        skip_ones(in, i);
        if (i >= in_rank) return std::nullopt;
        pin *= in[i];
        in_run[i++] = run;
      } else {
        skip_ones(out, o);
        if (o >= out_rank) return std::nullopt;
        pout *= out[o];
        run_out[run].push_back(o++);
      }
    }
  }
  // Each run's input dims must be adjacent and in order in the stored tensor (size-1 dims aside).
  std::vector<int> run_order;
  int prev_dim = -1;
  for (int d : stored) {
    const int run = in_run[d];
    if (run < 0) continue;
    if (!run_order.empty() && run_order.back() == run) {
      if (d < prev_dim) return std::nullopt;
    } else {
      if (std::find(run_order.begin(), run_order.end(), run) != run_order.end()) return std::nullopt;
      run_order.push_back(run);
    }
    prev_dim = d;
  }
  Perm result;
  for (int run : run_order) result.insert(result.end(), run_out[run].begin(), run_out[run].end());
  for (int d = 0; d < out_rank; ++d) {
    if (out[d] != 1) continue;
    auto after = d == 0 ? result.begin() : std::find(result.begin(), result.end(), d - 1) + 1;
    result.insert(after, d);
  }
  return normalized(result, out_rank);
}

}  // namespace pt2tflite::ir
