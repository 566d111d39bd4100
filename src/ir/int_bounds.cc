#include "ir/int_bounds.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <unordered_set>

#include "ir/constants.h"

namespace pt2tflite::ir {
namespace {

using Bound = std::optional<int64_t>;

constexpr int64_t kHuge = int64_t{1} << 62;  // beyond this a sum or product is not tracked
constexpr int kMaxDepth = 64;
constexpr int64_t kMaxConstantElements = 1 << 20;

Bound add(Bound a, Bound b) {
  if (!a || !b || *a > kHuge - *b) return std::nullopt;
  return *a + *b;
}

Bound mul(Bound a, Bound b) {
  if (!a || !b) return std::nullopt;
  if (*a != 0 && *b > kHuge / *a) return std::nullopt;
  return *a * *b;
}

Bound max_of(Bound a, Bound b) {
  if (!a || !b) return std::nullopt;
  return std::max(*a, *b);
}

bool is_integer(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt16 || t == DType::kInt32 || t == DType::kInt64;
}

int64_t magnitude(int64_t x) { return x == std::numeric_limits<int64_t>::min() ? kHuge + 1 : std::llabs(x); }

Bound of_scalar(const Attr& a) {
  if (const auto* i = std::get_if<int64_t>(&a)) return magnitude(*i);
  if (const auto* b = std::get_if<bool>(&a)) return *b ? 1 : 0;
  return std::nullopt;
}

// The size of `x` along `dim` (negative counts from the end), or its element count when `dim`
// is None: an index into it lies in [0, size).
Bound index_range(const Node& p, const char* dim_arg) {
  const Value* x = p.get_tensor("self");
  if (!x || !is_fully_static(x->shape)) return std::nullopt;
  int64_t size = 1;
  if (!p.find(dim_arg) || p.is_none(dim_arg)) {
    size = num_elements(x->shape);
  } else {
    int64_t d = p.get_int(dim_arg);
    if (x->rank() == 0)
      size = 1;
    else {
      if (d < 0) d += x->rank();
      if (d < 0 || d >= x->rank()) return std::nullopt;
      size = x->shape[d].size;
    }
  }
  return std::max<int64_t>(size - 1, 0);
}

class Bounder {
 public:
  Bound of(const Value* v, int depth) {
    if (!v || depth > kMaxDepth) return std::nullopt;
    if (v->dtype == DType::kBool) return 1;
    if (v->is_const()) {
      if (!is_integer(v->dtype) || !is_fully_static(v->shape) || num_elements(v->shape) > kMaxConstantElements)
        return std::nullopt;
      int64_t m = 0;
      for (int64_t x : to_int_vector(*v)) m = std::max(m, magnitude(x));
      return m;
    }
    const Node* p = v->producer;
    if (!p || !visiting_.insert(v).second) return std::nullopt;
    Bound b = of_node(*p, v, depth + 1);
    visiting_.erase(v);
    return b;
  }

  Bound of(const Attr& a, int depth) {
    if (const auto* t = std::get_if<Value*>(&a)) return of(*t, depth);
    return of_scalar(a);
  }

 private:
  Bound arg(const Node& p, const char* name, int depth) {
    const Attr* a = p.find(name);
    return a ? of(*a, depth) : std::nullopt;
  }

  Bound of_node(const Node& p, const Value* v, int depth) {
    const std::string_view op = p.op;
    const bool second_output = p.outputs.size() > 1 && p.outputs[1] == v;
    // Indices: below the size of the dim they index.
    if ((op == "aten.topk.default" || op == "aten.sort.default") && second_output) return index_range(p, "dim");
    if (op == "aten.argmax.default" || op == "aten.argmin.default") return index_range(p, "dim");
    if (op.starts_with("aten.arange.")) {
      Bound lo = p.find("start") ? of_scalar(*p.find("start")) : Bound{0};
      return max_of(lo, of_scalar(*p.find("end")));
    }
    // Ops whose values are a subset (or a copy) of their "self" operand's.
    static const std::unordered_set<std::string_view> kSame = {
        "aten.view.default",      "aten.reshape.default", "aten._unsafe_view.default",
        "aten.unsqueeze.default", "aten.squeeze.dim",     "aten.squeeze.dims",
        "aten.squeeze.default",   "aten.expand.default",  "aten.clone.default",
        "aten.slice.Tensor",      "aten.select.int",      "aten.permute.default",
        "aten.transpose.int",     "aten.alias.default",   "aten.detach.default",
        "aten.t.default",         "aten.repeat.default",  "aten.index_select.default",
        "aten.gather.default",    "aten.index.Tensor",    "aten.lift_fresh_copy.default",
        "aten.flip.default",      "aten.roll.default",    "aten.neg.default",
        "aten.abs.default",       "aten.amax.default",    "aten.amin.default",
        "aten.max.dim",           "aten.min.dim"};
    if (kSame.count(op))
      return (op == "aten.max.dim" || op == "aten.min.dim") && second_output ? index_range(p, "dim")
                                                                             : arg(p, "self", depth);
    if (op == "aten._to_copy.default") {
      const Value* x = p.get_tensor("self");
      return x && (is_integer(x->dtype) || x->dtype == DType::kBool) ? of(x, depth) : std::nullopt;
    }
    if (op == "aten.cat.default") {
      Bound b = 0;
      for (const Value* x : p.get_tensors("tensors")) b = max_of(b, of(x, depth));
      return b;
    }
    if (op == "aten.add.Tensor" || op == "aten.sub.Tensor" || op == "aten.add.Scalar" || op == "aten.sub.Scalar") {
      Bound alpha = p.find("alpha") ? of_scalar(*p.find("alpha")) : Bound{1};
      return add(arg(p, "self", depth), mul(alpha, arg(p, "other", depth)));
    }
    if (op == "aten.mul.Tensor" || op == "aten.mul.Scalar") return mul(arg(p, "self", depth), arg(p, "other", depth));
    // |floor(a / b)| and |trunc(a / b)| are at most |a| for an integer b != 0 (b = 0 raises).
    if (op == "aten.div.Tensor_mode" && !p.is_none("rounding_mode")) return arg(p, "self", depth);
    if (op == "aten.remainder.Tensor" || op == "aten.remainder.Scalar" || op == "aten.fmod.Tensor" ||
        op == "aten.fmod.Scalar")
      return arg(p, "other", depth);
    if (op == "aten.where.self") return max_of(arg(p, "self", depth), arg(p, "other", depth));
    if (op == "aten.clamp.default" && !p.is_none("min") && !p.is_none("max"))
      return max_of(arg(p, "min", depth), arg(p, "max", depth));
    return std::nullopt;
  }

  std::unordered_set<const Value*> visiting_;
};

}  // namespace

std::optional<int64_t> int_magnitude_bound(const Value* v) { return Bounder().of(v, 0); }

std::optional<int64_t> int_magnitude_bound(const Attr& a) { return Bounder().of(a, 0); }

bool fits_int32(const Attr& a, const Attr& b) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  Bound x = int_magnitude_bound(a), y = int_magnitude_bound(b);
  return x && y && *x <= kMax && *y <= kMax;
}

}  // namespace pt2tflite::ir
