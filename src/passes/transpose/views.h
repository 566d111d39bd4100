// Data movement as algebra: any chain of RESHAPEs and TRANSPOSEs of a static tensor that can be
// written as "reshape to atoms, permute the atoms, reshape to the result" is one View, and two
// Views compose into one View whenever their atoms have a common refinement. A View costs at most
// one TRANSPOSE however many ops it came from, and none when it keeps the element order.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace pt2tflite::passes {

// Y = reshape(transpose(reshape(X, atoms), perm), out) for X of shape `in`. Atoms are the pieces
// of the flattened element index, outermost first, all of size > 1 (size-1 dims carry no order).
struct View {
  std::vector<int64_t> in;
  std::vector<int64_t> out;
  std::vector<int64_t> atoms;  // sizes in input order
  std::vector<int> perm;       // output position j holds input atom perm[j]

  static View identity(const std::vector<int64_t>& shape);
  // nullopt when no common refinement exists (e.g. [4, 6] → [3, 8]) or a dim is 0.
  static std::optional<View> reshape(const std::vector<int64_t>& in, const std::vector<int64_t>& out);
  // out dim i = in dim perm[i].
  static View transpose(const std::vector<int64_t>& in, const std::vector<int>& perm);

  // The smallest TRANSPOSE that performs this View: atoms that stay neighbours are merged.
  // `no_merge_before` lists atoms that must begin a merged atom (their predecessor stays apart).
  struct Minimal {
    std::vector<int64_t> in;      // shape to reshape X to before the TRANSPOSE
    std::vector<int> perm;        // TRANSPOSE permutation (identity: the View is a plain RESHAPE)
    std::vector<int64_t> out;     // shape after the TRANSPOSE
    std::vector<int> first_atom;  // per merged dim of `in`, its first atom
  };
  Minimal minimal(const std::vector<int>& no_merge_before = {}) const;
  // True when the View moves no element (a RESHAPE does it).
  bool is_reshape() const;
  int transposes() const { return is_reshape() ? 0 : 1; }

  // The same View with the last dim of `in` and `out` resized to n, when the View leaves that
  // dim alone (it is the last in both, unsplit and in place): what lets a View commute with ops
  // that work along the last dim (FULLY_CONNECTED, SOFTMAX). nullopt otherwise.
  std::optional<View> with_last_dim(int64_t n) const;

  // The p with *this == transpose(in, p) when the View only reorders whole dims (what a constant
  // operand of an elementwise op can follow), nullopt when it also splits or merges dims.
  std::optional<std::vector<int>> dim_permutation() const;

  bool operator==(const View& o) const;
};

// `second` after `first` (first.out == second.in), or nullopt when their atoms do not refine.
std::optional<View> compose(const View& first, const View& second);

}  // namespace pt2tflite::passes
