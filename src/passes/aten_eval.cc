#include "passes/aten_eval.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "ir/constants.h"

namespace pt2tflite::passes {
namespace {

using ir::DType;
using ir::Node;
using ir::Value;
using Sizes = std::vector<int64_t>;

constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53: every integer up to it is a double

int64_t numel(const Sizes& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Sizes strides_of(const Sizes& s) {
  Sizes st(s.size(), 1);
  for (size_t d = s.size(); d-- > 1;) st[d - 1] = st[d] * s[d];
  return st;
}

// Steps the row-major multi-index `idx` over `sizes`.
void next_index(Sizes& idx, const Sizes& sizes) {
  for (size_t d = idx.size(); d-- > 0;) {
    if (++idx[d] < sizes[d]) return;
    idx[d] = 0;
  }
}

// `x` rounded to `dtype` as PyTorch stores it, or nullopt when it does not fit (ints: NaN, out of
// range, or int64 beyond what a double holds exactly).
std::optional<double> round_to(DType dtype, double x) {
  switch (dtype) {
    case DType::kFloat64: return x;
    case DType::kFloat32:
      if (std::isfinite(x) && std::abs(x) > static_cast<double>(std::numeric_limits<float>::max()) * (1 + 0x1p-25))
        return x > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
      return static_cast<double>(static_cast<float>(x));
    case DType::kBool: return std::isnan(x) ? x : (x != 0 ? 1.0 : 0.0);
    case DType::kFloat16:
    case DType::kBFloat16: return std::nullopt;
    default: break;
  }
  // What PyTorch stores for a float that no integer holds (the log(0) of T5's position buckets,
  // later discarded by a where) is platform-defined: it becomes a poison value (NaN) that every
  // integer op passes on and that is never stored (see has_poison).
  if (!std::isfinite(x)) return std::numeric_limits<double>::quiet_NaN();
  const double t = std::trunc(x);
  double lo = -kMaxExactInt, hi = kMaxExactInt;
  switch (dtype) {
    case DType::kInt32: lo = -2147483648.0, hi = 2147483647.0; break;
    case DType::kInt16: lo = -32768.0, hi = 32767.0; break;
    case DType::kInt8: lo = -128.0, hi = 127.0; break;
    case DType::kUInt8: lo = 0.0, hi = 255.0; break;
    default: break;
  }
  if (t < lo || t > hi) return std::numeric_limits<double>::quiet_NaN();
  return t;
}

}  // namespace

bool has_poison(const EvalTensor& t) {
  if (ir::is_floating(t.dtype)) return false;
  return std::any_of(t.values.begin(), t.values.end(), [](double x) { return std::isnan(x); });
}

namespace {

// An operand: a tensor, or a scalar argument (PyTorch's "wrapped number", which does not decide
// the computation dtype of a comparison).
struct Operand {
  EvalTensorPtr t;
  bool scalar_arg = false;
};

struct Ctx {
  const Node& n;
  const EvalLookup& lookup;
  const Value& out;
  Sizes out_sizes;

  const ir::Attr* arg(std::string_view name) const { return n.find(name); }
  bool has(std::string_view name) const { return !n.is_none(name); }
  int64_t int_or(std::string_view name, int64_t def) const {
    const ir::Attr* a = arg(name);
    if (!a) return def;
    if (auto* i = std::get_if<int64_t>(a)) return *i;
    if (auto* b = std::get_if<bool>(a)) return *b;
    return def;
  }
  std::optional<double> number(std::string_view name) const {
    const ir::Attr* a = arg(name);
    if (!a) return std::nullopt;
    if (auto* i = std::get_if<int64_t>(a)) return static_cast<double>(*i);
    if (auto* d = std::get_if<double>(a)) return *d;
    if (auto* b = std::get_if<bool>(a)) return *b ? 1.0 : 0.0;
    return std::nullopt;
  }
  std::optional<Operand> operand(std::string_view name) const {
    const ir::Attr* a = arg(name);
    if (!a) return std::nullopt;
    if (auto* v = std::get_if<Value*>(a)) {
      if (!*v) return std::nullopt;
      EvalTensorPtr t = lookup(*v);
      if (!t) return std::nullopt;
      return Operand{t, false};
    }
    auto s = std::make_shared<EvalTensor>();
    if (auto* i = std::get_if<int64_t>(a))
      s->dtype = DType::kInt64, s->values = {static_cast<double>(*i)};
    else if (auto* d = std::get_if<double>(a))
      s->dtype = DType::kFloat64, s->values = {*d};
    else if (auto* b = std::get_if<bool>(a))
      s->dtype = DType::kBool, s->values = {*b ? 1.0 : 0.0};
    else
      return std::nullopt;
    return Operand{s, true};
  }
  EvalTensorPtr tensor(std::string_view name) const {
    auto o = operand(name);
    return o && !o->scalar_arg ? o->t : nullptr;
  }
  // Normalizes a possibly negative dim of a tensor of rank `rank`.
  std::optional<int> dim(int64_t d, size_t rank) const {
    const int64_t r = static_cast<int64_t>(rank);
    if (d < 0) d += r;
    if (d < 0 || d >= std::max<int64_t>(r, 1)) return std::nullopt;
    return static_cast<int>(d);
  }
};

// A result of the node's dtype and shape from values computed in double; nullopt if one does not fit.
std::optional<EvalTensor> finish(const Ctx& c, std::vector<double> values) {
  if (static_cast<int64_t>(values.size()) != numel(c.out_sizes)) return std::nullopt;
  EvalTensor r{c.out.dtype, c.out_sizes, std::move(values)};
  for (double& x : r.values) {
    auto y = round_to(r.dtype, x);
    if (!y) return std::nullopt;
    x = *y;
  }
  return r;
}

// The dtype a comparison computes in: the floating dtype of a tensor operand if any, float32 when
// only a scalar argument is floating, else torch.result_type (a uint8 tensor with the int -2
// compares in uint8, where broadcast() wraps the int to 254).
DType compute_dtype(std::initializer_list<const Operand*> ops) {
  bool tensor_float = false, scalar_float = false, f64 = false;
  std::vector<ir::PromotionOperand> promotion;
  for (const Operand* o : ops) {
    promotion.push_back({o->t->dtype, o->scalar_arg         ? ir::PromotionRank::kWrappedNumber
                                      : o->t->sizes.empty() ? ir::PromotionRank::kZeroDim
                                                            : ir::PromotionRank::kDimmed});
    if (!ir::is_floating(o->t->dtype)) continue;
    (o->scalar_arg ? scalar_float : tensor_float) = true;
    if (!o->scalar_arg && o->t->dtype == DType::kFloat64) f64 = true;
  }
  if (tensor_float) return f64 ? DType::kFloat64 : DType::kFloat32;
  return scalar_float ? DType::kFloat32 : ir::result_type(promotion);
}

// The operand's values broadcast to the output and rounded to `dtype` (when floating).
std::optional<std::vector<double>> broadcast(const Ctx& c, const EvalTensor& t, DType dtype) {
  if (t.sizes.size() > c.out_sizes.size()) return std::nullopt;
  for (size_t i = 0; i < t.sizes.size(); ++i) {
    const int64_t in = t.sizes[t.sizes.size() - 1 - i], out = c.out_sizes[c.out_sizes.size() - 1 - i];
    if (in != 1 && in != out) return std::nullopt;
  }
  const auto offsets = ir::broadcast_offsets(t.sizes, c.out_sizes);
  std::vector<double> v(offsets.size());
  for (size_t i = 0; i < v.size(); ++i) {
    double x = t.values[offsets[i]];
    if (ir::is_floating(dtype) && !ir::is_floating(t.dtype))
      x = *round_to(dtype, x);
    else if (!ir::is_floating(dtype) && !ir::is_floating(t.dtype) && !std::isnan(x))
      x = static_cast<double>(ir::wrap_int(ir::saturating_int64(x), dtype));  // PyTorch's integer conversion
    else if (dtype == DType::kFloat32 && t.dtype == DType::kFloat64)
      x = *round_to(dtype, x);
    v[i] = x;
  }
  return v;
}

using Fn1 = double (*)(double);
using Fn2 = double (*)(double, double);

// An elementwise op of one tensor, computed in the output dtype (an int input of sin becomes float).
std::optional<EvalTensor> unary(const Ctx& c, Fn1 f) {
  EvalTensorPtr x = c.tensor("self");
  if (!x) return std::nullopt;
  if (has_poison(*x) && ir::is_floating(c.out.dtype)) return std::nullopt;
  const DType cd = ir::is_floating(c.out.dtype) ? c.out.dtype : x->dtype;
  auto v = broadcast(c, *x, cd);
  if (!v) return std::nullopt;
  for (double& e : *v) e = std::isnan(e) && !ir::is_floating(x->dtype) ? e : f(e);
  return finish(c, std::move(*v));
}

// An elementwise op of two operands with broadcasting. Arithmetic computes in the output dtype;
// predicates (bool output) in the operands' common dtype.
std::optional<EvalTensor> binary(const Ctx& c, const char* a_name, const char* b_name, Fn2 f, double alpha = 1.0,
                                 bool alpha_on_a = false) {
  auto a = c.operand(a_name), b = c.operand(b_name);
  if (!a || !b) return std::nullopt;
  const DType cd = c.out.dtype == DType::kBool ? compute_dtype({&*a, &*b}) : c.out.dtype;
  auto va = broadcast(c, *a->t, cd), vb = broadcast(c, *b->t, cd);
  if (!va || !vb) return std::nullopt;
  if (cd == DType::kFloat32 && a->scalar_arg)
    for (double& e : *va) e = *round_to(cd, e);
  if (cd == DType::kFloat32 && b->scalar_arg)
    for (double& e : *vb) e = *round_to(cd, e);
  const bool a_int = !ir::is_floating(a->t->dtype), b_int = !ir::is_floating(b->t->dtype);
  std::vector<double> r(va->size());
  for (size_t i = 0; i < r.size(); ++i) {
    if ((a_int && std::isnan((*va)[i])) || (b_int && std::isnan((*vb)[i]))) {
      r[i] = std::numeric_limits<double>::quiet_NaN();  // poison in, poison out
      continue;
    }
    r[i] = alpha_on_a ? f((*va)[i] * alpha, (*vb)[i]) : f((*va)[i], alpha * (*vb)[i]);
  }
  return finish(c, std::move(r));
}

// Elements of `in` picked through an affine map: out element at multi-index i reads
// in[base + sum_d i[d] * step[d]].
std::optional<EvalTensor> strided(const Ctx& c, const EvalTensor& in, int64_t base, const Sizes& step) {
  std::vector<double> v(numel(c.out_sizes));
  Sizes idx(c.out_sizes.size(), 0);
  for (double& e : v) {
    int64_t off = base;
    for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * step[d];
    if (off < 0 || off >= static_cast<int64_t>(in.values.size())) return std::nullopt;
    e = in.values[off];
    next_index(idx, c.out_sizes);
  }
  return finish(c, std::move(v));
}

// ---- creation ----

std::optional<EvalTensor> arange(const Ctx& c) {
  const bool has_start = c.arg("start") != nullptr;
  auto start = has_start ? c.number("start") : std::optional<double>(0.0);
  auto step = c.arg("step") ? c.number("step") : std::optional<double>(1.0);
  if (!start || !step) return std::nullopt;
  std::vector<double> v(numel(c.out_sizes));
  for (size_t i = 0; i < v.size(); ++i) v[i] = *start + static_cast<double>(i) * *step;
  return finish(c, std::move(v));
}

std::optional<EvalTensor> fill(const Ctx& c, double x) { return finish(c, std::vector<double>(numel(c.out_sizes), x)); }

std::optional<EvalTensor> full(const Ctx& c) {
  auto x = c.number("fill_value");
  return x ? fill(c, *x) : std::nullopt;
}

std::optional<EvalTensor> scalar_tensor(const Ctx& c) {
  auto x = c.number("s");
  return x ? fill(c, *x) : std::nullopt;
}

// ---- views and data movement ----

std::optional<EvalTensor> same_values(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  if (!x || numel(x->sizes) != numel(c.out_sizes)) return std::nullopt;
  if (ir::is_floating(c.out.dtype) && has_poison(*x)) return std::nullopt;
  return finish(c, x->values);
}

std::optional<EvalTensor> permute_as(const Ctx& c, const EvalTensor& x, const std::vector<int>& perm) {
  const Sizes st = strides_of(x.sizes);
  Sizes step(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) step[i] = st[perm[i]];
  return strided(c, x, 0, step);
}

std::optional<EvalTensor> permute(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  if (!x || !c.arg("dims")) return std::nullopt;
  std::vector<int> perm;
  for (int64_t d : c.n.get_ints("dims")) {
    auto nd = c.dim(d, x->sizes.size());
    if (!nd) return std::nullopt;
    perm.push_back(*nd);
  }
  if (perm.size() != x->sizes.size()) return std::nullopt;
  return permute_as(c, *x, perm);
}

std::optional<EvalTensor> transpose(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  if (!x) return std::nullopt;
  std::vector<int> perm(x->sizes.size());
  std::iota(perm.begin(), perm.end(), 0);
  if (perm.size() < 2) return finish(c, x->values);
  auto d0 = c.dim(c.int_or("dim0", 0), perm.size()), d1 = c.dim(c.int_or("dim1", 1), perm.size());
  if (!d0 || !d1) return std::nullopt;
  std::swap(perm[*d0], perm[*d1]);
  return permute_as(c, *x, perm);
}

std::optional<EvalTensor> expand(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  if (!x) return std::nullopt;
  auto v = broadcast(c, *x, x->dtype);
  return v ? finish(c, std::move(*v)) : std::nullopt;
}

std::optional<EvalTensor> slice(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  if (!x || x->sizes.empty()) return std::nullopt;
  // A run-time end (a SymRef the output shape restates) is the lowering's, never "to the end".
  if (const ir::Attr* e = c.arg("end"); e && std::holds_alternative<ir::SymRef>(*e)) return std::nullopt;
  auto d = c.dim(c.int_or("dim", 0), x->sizes.size());
  const int64_t step = c.int_or("step", 1);
  if (!d || step < 1) return std::nullopt;
  const int64_t n = x->sizes[*d];
  int64_t start = c.has("start") ? c.int_or("start", 0) : 0;
  int64_t end = c.has("end") ? c.int_or("end", n) : n;
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  if (c.out_sizes.size() != x->sizes.size() || c.out_sizes[*d] != (end - start + step - 1) / step) return std::nullopt;
  Sizes st = strides_of(x->sizes);
  Sizes step_v = st;
  step_v[*d] *= step;
  return strided(c, *x, start * st[*d], step_v);
}

std::optional<EvalTensor> select(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  if (!x || x->sizes.empty()) return std::nullopt;
  auto d = c.dim(c.int_or("dim", 0), x->sizes.size());
  if (!d) return std::nullopt;
  int64_t i = c.int_or("index", 0);
  if (i < 0) i += x->sizes[*d];
  if (i < 0 || i >= x->sizes[*d]) return std::nullopt;
  Sizes st = strides_of(x->sizes);
  const int64_t base = i * st[*d];
  st.erase(st.begin() + *d);
  return strided(c, *x, base, st);
}

std::optional<EvalTensor> cat(const Ctx& c) {
  const ir::Attr* a = c.arg("tensors");
  if (!a || !std::holds_alternative<std::vector<Value*>>(*a)) return std::nullopt;
  std::vector<EvalTensorPtr> parts;
  for (const Value* v : std::get<std::vector<Value*>>(*a)) {
    if (!v) return std::nullopt;
    EvalTensorPtr t = c.lookup(v);
    if (!t) return std::nullopt;
    // A 1-D empty tensor is skipped by torch.cat whatever the other ranks.
    if (t->sizes.size() == 1 && t->sizes[0] == 0 && c.out_sizes.size() != 1) continue;
    if (t->sizes.size() != c.out_sizes.size()) return std::nullopt;
    parts.push_back(t);
  }
  auto d = c.dim(c.int_or("dim", 0), c.out_sizes.size());
  if (!d) return std::nullopt;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < *d; ++i) outer *= c.out_sizes[i];
  for (size_t i = *d + 1; i < c.out_sizes.size(); ++i) inner *= c.out_sizes[i];
  std::vector<double> v;
  v.reserve(numel(c.out_sizes));
  for (int64_t o = 0; o < outer; ++o)
    for (const auto& t : parts) {
      const int64_t block = t->sizes[*d] * inner;
      if (static_cast<int64_t>(t->values.size()) != outer * block) return std::nullopt;
      const double* src = t->values.data() + o * block;
      v.insert(v.end(), src, src + block);
    }
  return finish(c, std::move(v));
}

// index.Tensor: advanced indexing by a list of optional integer index tensors (numpy rules: the
// index tensors broadcast together; their dims replace the indexed dims in place when the
// indexed dims are adjacent, and go first otherwise).
std::optional<EvalTensor> index(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  const ir::Attr* a = c.arg("indices");
  if (!x || !a || !std::holds_alternative<std::vector<Value*>>(*a)) return std::nullopt;
  const auto& idx_values = std::get<std::vector<Value*>>(*a);
  const size_t rank = x->sizes.size();
  if (idx_values.size() > rank) return std::nullopt;
  std::vector<EvalTensorPtr> idx(rank);
  std::vector<size_t> indexed;
  Sizes b;  // the broadcast shape of the index tensors
  for (size_t d = 0; d < idx_values.size(); ++d) {
    if (!idx_values[d]) continue;
    EvalTensorPtr t = c.lookup(idx_values[d]);
    if (!t || t->dtype == DType::kBool || ir::is_floating(t->dtype)) return std::nullopt;
    idx[d] = t;
    indexed.push_back(d);
    const Sizes& s = t->sizes;
    if (s.size() > b.size()) b.insert(b.begin(), s.size() - b.size(), 1);
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& bd = b[b.size() - s.size() + i];
      if (bd == 1)
        bd = s[i];
      else if (s[i] != 1 && s[i] != bd)
        return std::nullopt;
    }
  }
  if (indexed.empty()) return std::nullopt;
  const bool adjacent = indexed.back() - indexed.front() + 1 == indexed.size();
  // Output dims: [kept dims before, b..., kept dims after] when adjacent, else [b..., kept dims].
  std::vector<int> kept;  // input dims not indexed, in order
  for (size_t d = 0; d < rank; ++d)
    if (!idx[d]) kept.push_back(static_cast<int>(d));
  const size_t lead = adjacent ? indexed.front() : 0;
  Sizes out;
  for (size_t i = 0; i < lead; ++i) out.push_back(x->sizes[kept[i]]);
  out.insert(out.end(), b.begin(), b.end());
  for (size_t i = lead; i < kept.size(); ++i) out.push_back(x->sizes[kept[i]]);
  if (out != c.out_sizes) return std::nullopt;
  std::vector<std::vector<int64_t>> offsets(rank);  // per indexed dim: index tensor offset per b element
  for (size_t d : indexed) offsets[d] = ir::broadcast_offsets(idx[d]->sizes, b);
  const Sizes st = strides_of(x->sizes);
  const Sizes bst = strides_of(b);
  std::vector<double> v(numel(out));
  Sizes oi(out.size(), 0);
  for (double& e : v) {
    int64_t bflat = 0;
    for (size_t i = 0; i < b.size(); ++i) bflat += oi[lead + i] * bst[i];
    int64_t off = 0;
    for (size_t d : indexed) {
      const double kd = idx[d]->values[offsets[d][bflat]];
      if (std::isnan(kd)) return std::nullopt;
      int64_t k = ir::saturating_int64(kd);
      if (k < 0) k += x->sizes[d];
      if (k < 0 || k >= x->sizes[d]) return std::nullopt;  // torch raises: leave it to run time
      off += k * st[d];
    }
    for (size_t i = 0; i < kept.size(); ++i) {
      const size_t od = i < lead ? i : i + b.size();
      off += oi[od] * st[kept[i]];
    }
    e = x->values[off];
    next_index(oi, out);
  }
  return finish(c, std::move(v));
}

// Rows of `table` along `dim` picked by `ids` (index_select, embedding).
std::optional<EvalTensor> take_along(const Ctx& c, const EvalTensor& table, int dim, const EvalTensor& ids) {
  if (ir::is_floating(ids.dtype)) return std::nullopt;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < dim; ++i) outer *= table.sizes[i];
  for (size_t i = dim + 1; i < table.sizes.size(); ++i) inner *= table.sizes[i];
  const int64_t n = table.sizes[dim];
  std::vector<double> v;
  v.reserve(numel(c.out_sizes));
  for (int64_t o = 0; o < outer; ++o)
    for (double id : ids.values) {
      if (std::isnan(id)) return std::nullopt;
      int64_t k = ir::saturating_int64(id);
      if (k < 0) k += n;
      if (k < 0 || k >= n) return std::nullopt;
      const double* src = table.values.data() + (o * n + k) * inner;
      v.insert(v.end(), src, src + inner);
    }
  return finish(c, std::move(v));
}

std::optional<EvalTensor> index_select(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self"), ids = c.tensor("index");
  if (!x || !ids || x->sizes.empty()) return std::nullopt;
  auto d = c.dim(c.int_or("dim", 0), x->sizes.size());
  return d ? take_along(c, *x, *d, *ids) : std::nullopt;
}

std::optional<EvalTensor> embedding(const Ctx& c) {
  EvalTensorPtr w = c.tensor("weight"), ids = c.tensor("indices");
  if (!w || !ids || w->sizes.size() != 2) return std::nullopt;
  return take_along(c, *w, 0, *ids);
}

// torch.gather: out[i] = self[i with dim `dim` replaced by index[i]], out shaped like index.
std::optional<EvalTensor> gather(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self"), ids = c.tensor("index");
  if (!x || !ids || ir::is_floating(ids->dtype) || ids->sizes != c.out_sizes || ids->sizes.size() != x->sizes.size())
    return std::nullopt;
  auto d = c.dim(c.int_or("dim", 0), x->sizes.size());
  if (!d) return std::nullopt;
  const Sizes st = strides_of(x->sizes);
  std::vector<double> v(ids->values.size());
  Sizes idx(ids->sizes.size(), 0);
  for (size_t i = 0; i < v.size(); ++i) {
    const double kd = ids->values[i];
    if (std::isnan(kd)) return std::nullopt;
    int64_t k = ir::saturating_int64(kd), off = 0;
    if (k < 0) k += x->sizes[*d];
    if (k < 0 || k >= x->sizes[*d]) return std::nullopt;
    for (size_t a = 0; a < idx.size(); ++a) {
      const int64_t at = static_cast<int>(a) == *d ? k : idx[a];
      if (at >= x->sizes[a]) return std::nullopt;
      off += at * st[a];
    }
    v[i] = x->values[off];
    next_index(idx, ids->sizes);
  }
  return finish(c, std::move(v));
}

// upsample_nearest2d, as PyTorch's CPU kernel picks sources: src = min(floor(dst · scale), in - 1)
// with the scale in float32 (1 / scale_factor when given, in / out otherwise).
std::optional<EvalTensor> upsample_nearest(const Ctx& c) {
  EvalTensorPtr x = c.tensor(c.arg("input") ? "input" : "self");
  if (!x || x->sizes.size() != 4 || c.out_sizes.size() != 4) return std::nullopt;
  std::optional<double> scale_of[2];
  if (const ir::Attr* f = c.arg("scale_factors"); f && std::holds_alternative<std::vector<double>>(*f)) {
    const auto& sf = std::get<std::vector<double>>(*f);
    if (sf.size() != 2) return std::nullopt;
    scale_of[0] = sf[0], scale_of[1] = sf[1];
  }
  if (c.has("scales_h")) scale_of[0] = c.number("scales_h");
  if (c.has("scales_w")) scale_of[1] = c.number("scales_w");
  std::vector<std::vector<int64_t>> src(2);
  for (int a = 0; a < 2; ++a) {
    const int64_t in = x->sizes[2 + a], out = c.out_sizes[2 + a];
    for (int64_t o = 0; o < out; ++o) {
      int64_t s;
      if (out == in)
        s = o;
      else if (out == 2 * in)
        s = o >> 1;
      else {
        const float scale = scale_of[a] && *scale_of[a] > 0 ? static_cast<float>(1.0 / *scale_of[a])
                                                            : static_cast<float>(in) / static_cast<float>(out);
        s = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * scale)), in - 1);
      }
      src[a].push_back(s);
    }
  }
  const int64_t planes = x->sizes[0] * x->sizes[1], ih = x->sizes[2], iw = x->sizes[3];
  std::vector<double> v;
  v.reserve(numel(c.out_sizes));
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t sy : src[0])
      for (int64_t sx : src[1]) v.push_back(x->values[(p * ih + sy) * iw + sx]);
  return finish(c, std::move(v));
}

std::optional<EvalTensor> triangle(const Ctx& c, bool upper) {
  EvalTensorPtr x = c.tensor("self");
  if (!x || x->sizes.size() < 2) return std::nullopt;
  const int64_t diag = c.int_or("diagonal", 0);
  const int64_t rows = x->sizes[x->sizes.size() - 2], cols = x->sizes.back();
  std::vector<double> v = x->values;
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t col = static_cast<int64_t>(i) % cols, row = (static_cast<int64_t>(i) / cols) % rows;
    const bool keep = upper ? col - row >= diag : col - row <= diag;
    if (!keep) v[i] = 0;
  }
  return finish(c, std::move(v));
}

std::optional<EvalTensor> cumsum(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  if (!x) return std::nullopt;
  if (x->sizes.empty()) return finish(c, x->values);
  auto d = c.dim(c.int_or("dim", 0), x->sizes.size());
  if (!d) return std::nullopt;
  const int64_t n = x->sizes[*d], inner = strides_of(x->sizes)[*d];
  std::vector<double> v = x->values;
  for (size_t i = 0; i < v.size(); ++i)
    if ((static_cast<int64_t>(i) / inner) % n != 0) v[i] += v[i - inner];  // accumulated in double, as on CPU
  return finish(c, std::move(v));
}

enum class Reduce { kSum, kMean, kMax, kMin, kAny, kAll };

std::optional<EvalTensor> reduce(const Ctx& c, Reduce kind) {
  EvalTensorPtr x = c.tensor("self");
  if (!x) return std::nullopt;
  const size_t rank = x->sizes.size();
  std::vector<bool> reduced(rank, false);
  const ir::Attr* dims = c.arg("dim");
  const auto* list = dims ? std::get_if<std::vector<int64_t>>(dims) : nullptr;
  std::vector<int64_t> one_dim;  // any.dim / all.dim name a single dim
  if (dims && std::holds_alternative<int64_t>(*dims)) list = &(one_dim = {std::get<int64_t>(*dims)});
  if (!list || list->empty())
    reduced.assign(rank, true);
  else
    for (int64_t d : *list) {
      auto nd = c.dim(d, rank);
      if (!nd) return std::nullopt;
      reduced[*nd] = true;
    }
  Sizes kept_sizes = x->sizes;
  for (size_t d = 0; d < rank; ++d)
    if (reduced[d]) kept_sizes[d] = 1;
  const int64_t n_out = numel(kept_sizes);
  if (n_out != numel(c.out_sizes)) return std::nullopt;
  const Sizes kst = strides_of(kept_sizes);
  const bool extremum = kind == Reduce::kMax || kind == Reduce::kMin;
  std::vector<double> acc(
      n_out, extremum ? (kind == Reduce::kMax ? -INFINITY : INFINITY) : (kind == Reduce::kAll ? 1.0 : 0.0));
  Sizes idx(rank, 0);
  for (double e : x->values) {
    int64_t o = 0;
    for (size_t d = 0; d < rank; ++d) o += (reduced[d] ? 0 : idx[d]) * kst[d];
    if (kind == Reduce::kMax)
      acc[o] = std::isnan(e) || std::isnan(acc[o]) ? NAN : std::max(acc[o], e);
    else if (kind == Reduce::kMin)
      acc[o] = std::isnan(e) || std::isnan(acc[o]) ? NAN : std::min(acc[o], e);
    else if (kind == Reduce::kAny)
      acc[o] = std::max(acc[o], e != 0.0 ? 1.0 : 0.0);  // NaN counts as true
    else if (kind == Reduce::kAll)
      acc[o] = std::min(acc[o], e != 0.0 ? 1.0 : 0.0);
    else
      acc[o] += e;
    next_index(idx, x->sizes);
  }
  if (kind == Reduce::kMean) {
    const double count = static_cast<double>(numel(x->sizes)) / static_cast<double>(n_out);
    for (double& e : acc) e /= count;
  }
  return finish(c, std::move(acc));
}

std::optional<EvalTensor> matmul(const Ctx& c) {
  EvalTensorPtr a = c.tensor("self"), b = c.tensor("mat2");
  if (!a || !b || a->sizes.size() != b->sizes.size() || a->sizes.size() < 2 || a->sizes.size() > 3) return std::nullopt;
  const bool batched = a->sizes.size() == 3;
  const int64_t batch = batched ? a->sizes[0] : 1;
  if (batched && b->sizes[0] != batch) return std::nullopt;
  const int64_t m = a->sizes[a->sizes.size() - 2], k = a->sizes.back(), n = b->sizes.back();
  if (b->sizes[b->sizes.size() - 2] != k) return std::nullopt;
  std::vector<double> v(batch * m * n, 0.0);
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < k; ++q) acc += a->values[(i * m + r) * k + q] * b->values[(i * k + q) * n + j];
        v[(i * m + r) * n + j] = acc;
      }
  return finish(c, std::move(v));
}

std::optional<EvalTensor> repeat(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  if (!x || !c.arg("repeats")) return std::nullopt;
  const size_t rank = c.out_sizes.size();
  if (x->sizes.size() > rank) return std::nullopt;
  Sizes in(rank - x->sizes.size(), 1);
  in.insert(in.end(), x->sizes.begin(), x->sizes.end());
  const Sizes st = strides_of(in);
  std::vector<double> v(numel(c.out_sizes));
  Sizes idx(rank, 0);
  for (double& e : v) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (idx[d] % in[d]) * st[d];
    e = x->values[off];
    next_index(idx, c.out_sizes);
  }
  return finish(c, std::move(v));
}

std::optional<EvalTensor> flip(const Ctx& c) {
  EvalTensorPtr x = c.tensor("self");
  if (!x || !c.arg("dims")) return std::nullopt;
  Sizes st = strides_of(x->sizes);
  int64_t base = 0;
  for (int64_t d : c.n.get_ints("dims")) {
    auto nd = c.dim(d, x->sizes.size());
    if (!nd) return std::nullopt;
    base += (x->sizes[*nd] - 1) * st[*nd];
    st[*nd] = -st[*nd];
  }
  return strided(c, *x, base, st);
}

std::optional<EvalTensor> where(const Ctx& c) {
  auto cond = c.operand("condition"), a = c.operand("self"), b = c.operand("other");
  if (!cond || !a || !b) return std::nullopt;
  auto vc = broadcast(c, *cond->t, cond->t->dtype), va = broadcast(c, *a->t, c.out.dtype),
       vb = broadcast(c, *b->t, c.out.dtype);
  if (!vc || !va || !vb) return std::nullopt;
  std::vector<double> r(vc->size());
  for (size_t i = 0; i < r.size(); ++i) r[i] = std::isnan((*vc)[i]) ? (*vc)[i] : (*vc)[i] != 0 ? (*va)[i] : (*vb)[i];
  return finish(c, std::move(r));
}

std::optional<EvalTensor> masked_fill(const Ctx& c) {
  auto x = c.operand("self"), mask = c.operand("mask"), value = c.operand("value");
  if (!x || !mask || !value || numel(value->t->sizes) != 1) return std::nullopt;
  auto vx = broadcast(c, *x->t, c.out.dtype), vm = broadcast(c, *mask->t, DType::kBool);
  if (!vx || !vm) return std::nullopt;
  for (size_t i = 0; i < vx->size(); ++i)
    if ((*vm)[i] != 0) (*vx)[i] = value->t->values[0];
  return finish(c, std::move(*vx));
}

std::optional<EvalTensor> clamp(const Ctx& c) {
  auto x = c.operand("self");
  if (!x) return std::nullopt;
  auto v = broadcast(c, *x->t, c.out.dtype);
  if (!v) return std::nullopt;
  for (const char* bound : {"min", "max"}) {
    if (!c.has(bound)) continue;
    auto b = c.operand(bound);
    if (!b) return std::nullopt;
    auto vb = broadcast(c, *b->t, c.out.dtype);
    if (!vb) return std::nullopt;
    const bool is_min = bound[1] == 'i';
    for (size_t i = 0; i < v->size(); ++i) {
      double& e = (*v)[i];
      const double lim = ir::is_floating(c.out.dtype) ? *round_to(c.out.dtype, (*vb)[i]) : (*vb)[i];
      if (std::isnan(e) || std::isnan(lim))
        e = NAN;
      else
        e = is_min ? std::max(e, lim) : std::min(e, lim);
    }
  }
  return finish(c, std::move(*v));
}

// ---- scalar functions ----

double py_floor_div(double a, double b) { return std::floor(a / b); }
double py_mod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}
double nan_max(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }
double nan_min(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double sign(double x) { return std::isnan(x) ? x : static_cast<double>((x > 0) - (x < 0)); }
double bits_and(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  return static_cast<double>(ir::saturating_int64(a) & ir::saturating_int64(b));
}
double bits_or(double a, double b) { return static_cast<double>(ir::saturating_int64(a) | ir::saturating_int64(b)); }
double bits_xor(double a, double b) { return static_cast<double>(ir::saturating_int64(a) ^ ir::saturating_int64(b)); }

using Kernel = std::optional<EvalTensor> (*)(const Ctx&);

#define UNARY(expr) [](const Ctx& c) { return unary(c, [](double x) -> double { return expr; }); }
#define BINARY(a, b, expr) \
  [](const Ctx& c) { return binary(c, a, b, [](double x, double y) -> double { return expr; }); }
#define BINARY_ALPHA(a, b, expr, on_a)                                             \
  [](const Ctx& c) {                                                               \
    auto alpha = c.arg("alpha") ? c.number("alpha") : std::optional<double>(1.0);  \
    if (!alpha) return std::optional<EvalTensor>();                                \
    return binary(                                                                 \
        c, a, b, [](double x, double y) -> double { return expr; }, *alpha, on_a); \
  }

const std::unordered_map<std::string_view, Kernel>& kernels() {
  static const auto* table = new std::unordered_map<std::string_view, Kernel>{
      // creation
      {"aten.arange.default", arange},
      {"aten.arange.start", arange},
      {"aten.arange.start_step", arange},
      {"aten.full.default", full},
      {"aten.full_like.default", full},
      {"aten.new_full.default", full},
      {"aten.zeros.default", [](const Ctx& c) { return fill(c, 0); }},
      {"aten.zeros_like.default", [](const Ctx& c) { return fill(c, 0); }},
      {"aten.new_zeros.default", [](const Ctx& c) { return fill(c, 0); }},
      {"aten.ones.default", [](const Ctx& c) { return fill(c, 1); }},
      {"aten.ones_like.default", [](const Ctx& c) { return fill(c, 1); }},
      {"aten.new_ones.default", [](const Ctx& c) { return fill(c, 1); }},
      {"aten.scalar_tensor.default", scalar_tensor},
      // views, copies and casts
      {"aten.view.default", same_values},
      {"aten._unsafe_view.default", same_values},
      {"aten.reshape.default", same_values},
      {"aten.alias.default", same_values},
      {"aten.clone.default", same_values},
      {"aten.detach.default", same_values},
      {"aten.lift_fresh_copy.default", same_values},
      {"aten.contiguous.default", same_values},
      {"aten._to_copy.default", same_values},
      {"aten.to.dtype", same_values},
      {"aten.unsqueeze.default", same_values},
      {"aten.squeeze.default", same_values},
      {"aten.squeeze.dim", same_values},
      {"aten.squeeze.dims", same_values},
      {"aten.permute.default", permute},
      {"aten.t.default", transpose},
      {"aten.transpose.int", transpose},
      {"aten.expand.default", expand},
      {"aten.slice.Tensor", slice},
      {"aten.select.int", select},
      {"aten.cat.default", cat},
      {"aten.index.Tensor", index},
      {"aten.index_select.default", index_select},
      {"aten.embedding.default", embedding},
      {"aten.gather.default", gather},
      {"aten.upsample_nearest2d.vec", upsample_nearest},
      {"aten.upsample_nearest2d.default", upsample_nearest},
      {"aten.repeat.default", repeat},
      {"aten.flip.default", flip},
      {"aten.triu.default", [](const Ctx& c) { return triangle(c, true); }},
      {"aten.tril.default", [](const Ctx& c) { return triangle(c, false); }},
      // reductions and products
      {"aten.cumsum.default", cumsum},
      {"aten.sum.dim_IntList", [](const Ctx& c) { return reduce(c, Reduce::kSum); }},
      {"aten.sum.default", [](const Ctx& c) { return reduce(c, Reduce::kSum); }},
      {"aten.mean.dim", [](const Ctx& c) { return reduce(c, Reduce::kMean); }},
      {"aten.mean.default", [](const Ctx& c) { return reduce(c, Reduce::kMean); }},
      {"aten.amax.default", [](const Ctx& c) { return reduce(c, Reduce::kMax); }},
      {"aten.amin.default", [](const Ctx& c) { return reduce(c, Reduce::kMin); }},
      {"aten.any.default", [](const Ctx& c) { return reduce(c, Reduce::kAny); }},
      {"aten.any.dim", [](const Ctx& c) { return reduce(c, Reduce::kAny); }},
      {"aten.any.dims", [](const Ctx& c) { return reduce(c, Reduce::kAny); }},
      {"aten.all.default", [](const Ctx& c) { return reduce(c, Reduce::kAll); }},
      {"aten.all.dim", [](const Ctx& c) { return reduce(c, Reduce::kAll); }},
      {"aten.all.dims", [](const Ctx& c) { return reduce(c, Reduce::kAll); }},
      {"aten.mm.default", matmul},
      {"aten.bmm.default", matmul},
      // elementwise, one operand
      {"aten.sin.default", UNARY(std::sin(x))},
      {"aten.cos.default", UNARY(std::cos(x))},
      {"aten.tan.default", UNARY(std::tan(x))},
      {"aten.atan.default", UNARY(std::atan(x))},
      {"aten.exp.default", UNARY(std::exp(x))},
      {"aten.exp2.default", UNARY(std::exp2(x))},
      {"aten.expm1.default", UNARY(std::expm1(x))},
      {"aten.log.default", UNARY(std::log(x))},
      {"aten.log1p.default", UNARY(std::log1p(x))},
      {"aten.log2.default", UNARY(std::log2(x))},
      {"aten.log10.default", UNARY(std::log10(x))},
      {"aten.sqrt.default", UNARY(std::sqrt(x))},
      {"aten.rsqrt.default", UNARY(1.0 / std::sqrt(x))},
      {"aten.neg.default", UNARY(-x)},
      {"aten.abs.default", UNARY(std::abs(x))},
      {"aten.reciprocal.default", UNARY(1.0 / x)},
      {"aten.floor.default", UNARY(std::floor(x))},
      {"aten.ceil.default", UNARY(std::ceil(x))},
      {"aten.round.default", UNARY(std::nearbyint(x))},
      {"aten.trunc.default", UNARY(std::trunc(x))},
      {"aten.sigmoid.default", UNARY(sigmoid(x))},
      {"aten.tanh.default", UNARY(std::tanh(x))},
      {"aten.erf.default", UNARY(std::erf(x))},
      {"aten.sign.default", UNARY(sign(x))},
      {"aten.relu.default", UNARY(std::isnan(x) ? x : std::max(x, 0.0))},
      {"aten.logical_not.default", UNARY(x == 0 ? 1.0 : 0.0)},
      {"aten.bitwise_not.default",
       [](const Ctx& c) -> std::optional<EvalTensor> {
         EvalTensorPtr x = c.tensor("self");
         if (!x || ir::is_floating(x->dtype)) return std::nullopt;
         if (x->dtype == DType::kBool) return unary(c, [](double v) -> double { return v == 0 ? 1.0 : 0.0; });
         return unary(c, [](double v) -> double { return static_cast<double>(~ir::saturating_int64(v)); });
       }},
      // elementwise, two operands
      {"aten.add.Tensor", BINARY_ALPHA("self", "other", x + y, false)},
      {"aten.add.Scalar", BINARY_ALPHA("self", "other", x + y, false)},
      {"aten.sub.Tensor", BINARY_ALPHA("self", "other", x - y, false)},
      {"aten.sub.Scalar", BINARY_ALPHA("self", "other", x - y, false)},
      {"aten.rsub.Scalar", BINARY_ALPHA("self", "other", y - x, true)},
      {"aten.rsub.Tensor", BINARY_ALPHA("self", "other", y - x, true)},
      {"aten.mul.Tensor", BINARY("self", "other", x * y)},
      {"aten.mul.Scalar", BINARY("self", "other", x * y)},
      {"aten.div.Tensor", BINARY("self", "other", x / y)},
      {"aten.div.Scalar", BINARY("self", "other", x / y)},
      {"aten.div.Tensor_mode",
       [](const Ctx& c) -> std::
                            optional<EvalTensor> {
                              const ir::Attr* m = c.arg("rounding_mode");
                              const auto* mode = m ? std::get_if<std::string>(m) : nullptr;
                              if (!mode) return binary(c, "self", "other", [](double x, double y) { return x / y; });
                              if (*mode == "trunc")
                                return binary(c, "self", "other", [](double x, double y) { return std::trunc(x / y); });
                              if (*mode == "floor") return binary(c, "self", "other", py_floor_div);
                              return std::nullopt;
                            }},
      {"aten.floor_divide.default", BINARY("self", "other", py_floor_div(x, y))},
      {"aten.remainder.Tensor", BINARY("self", "other", py_mod(x, y))},
      {"aten.remainder.Scalar", BINARY("self", "other", py_mod(x, y))},
      {"aten.fmod.Tensor", BINARY("self", "other", std::fmod(x, y))},
      {"aten.fmod.Scalar", BINARY("self", "other", std::fmod(x, y))},
      {"aten.pow.Tensor_Scalar", BINARY("self", "exponent", std::pow(x, y))},
      {"aten.pow.Tensor_Tensor", BINARY("self", "exponent", std::pow(x, y))},
      {"aten.pow.Scalar", BINARY("self", "exponent", std::pow(x, y))},
      {"aten.atan2.default", BINARY("self", "other", std::atan2(x, y))},
      {"aten.minimum.default", BINARY("self", "other", nan_min(x, y))},
      {"aten.maximum.default", BINARY("self", "other", nan_max(x, y))},
      {"aten.clamp_min.default", BINARY("self", "min", nan_max(x, y))},
      {"aten.clamp_max.default", BINARY("self", "max", nan_min(x, y))},
      {"aten.eq.Tensor", BINARY("self", "other", x == y)},
      {"aten.eq.Scalar", BINARY("self", "other", x == y)},
      {"aten.ne.Tensor", BINARY("self", "other", x != y)},
      {"aten.ne.Scalar", BINARY("self", "other", x != y)},
      {"aten.lt.Tensor", BINARY("self", "other", x < y)},
      {"aten.lt.Scalar", BINARY("self", "other", x < y)},
      {"aten.le.Tensor", BINARY("self", "other", x <= y)},
      {"aten.le.Scalar", BINARY("self", "other", x <= y)},
      {"aten.gt.Tensor", BINARY("self", "other", x > y)},
      {"aten.gt.Scalar", BINARY("self", "other", x > y)},
      {"aten.ge.Tensor", BINARY("self", "other", x >= y)},
      {"aten.ge.Scalar", BINARY("self", "other", x >= y)},
      {"aten.logical_and.default", BINARY("self", "other", (x != 0) && (y != 0))},
      {"aten.logical_or.default", BINARY("self", "other", (x != 0) || (y != 0))},
      {"aten.logical_xor.default", BINARY("self", "other", (x != 0) != (y != 0))},
      {"aten.bitwise_and.Tensor", BINARY("self", "other", bits_and(x, y))},
      {"aten.bitwise_and.Scalar", BINARY("self", "other", bits_and(x, y))},
      {"aten.bitwise_or.Tensor", BINARY("self", "other", bits_or(x, y))},
      {"aten.bitwise_or.Scalar", BINARY("self", "other", bits_or(x, y))},
      {"aten.bitwise_xor.Tensor", BINARY("self", "other", bits_xor(x, y))},
      {"aten.bitwise_xor.Scalar", BINARY("self", "other", bits_xor(x, y))},
      // selection
      {"aten.where.self", where},
      {"aten.masked_fill.Scalar", masked_fill},
      {"aten.masked_fill.Tensor", masked_fill},
      {"aten.clamp.default", clamp},
      {"aten.clamp.Tensor", clamp},
  };
  return *table;
}

#undef UNARY
#undef BINARY
#undef BINARY_ALPHA

}  // namespace

bool can_evaluate(std::string_view op) { return kernels().count(op) > 0; }

std::vector<std::string_view> evaluable_ops() {
  std::vector<std::string_view> out;
  for (const auto& [op, kernel] : kernels()) out.push_back(op);
  std::sort(out.begin(), out.end());
  return out;
}

bool is_layout_op(std::string_view op) {
  static const std::unordered_set<std::string_view> ops = {"aten.view.default",
                                                           "aten._unsafe_view.default",
                                                           "aten.reshape.default",
                                                           "aten.alias.default",
                                                           "aten.clone.default",
                                                           "aten.detach.default",
                                                           "aten.lift_fresh_copy.default",
                                                           "aten.contiguous.default",
                                                           "aten.unsqueeze.default",
                                                           "aten.squeeze.default",
                                                           "aten.squeeze.dim",
                                                           "aten.squeeze.dims",
                                                           "aten.permute.default",
                                                           "aten.t.default",
                                                           "aten.transpose.int",
                                                           "aten.expand.default",
                                                           "aten.repeat.default"};
  return ops.count(op) > 0;
}

std::optional<EvalTensor> evaluate(const ir::Node& n, const EvalLookup& lookup) {
  auto it = kernels().find(n.op);
  if (it == kernels().end() || n.outputs.size() != 1 || !n.outputs[0]) return std::nullopt;
  const Value& out = *n.outputs[0];
  if (!ir::is_fully_static(out.shape)) return std::nullopt;
  if (out.dtype == DType::kFloat16 || out.dtype == DType::kBFloat16) return std::nullopt;
  // Poison (see round_to) never becomes a float: a float result read from a poisoned integer
  // tensor is declined, whichever elements it picks.
  if (ir::is_floating(out.dtype))
    for (const Value* v : n.operands())
      if (!ir::is_floating(v->dtype) && !v->is_const())
        if (EvalTensorPtr t = lookup(v); t && has_poison(*t)) return std::nullopt;
  Ctx c{n, lookup, out, ir::sizes_of(out.shape)};
  return it->second(c);
}

EvalTensorPtr read_constant(const ir::Value& v) {
  if (!v.data || v.quant || !ir::is_fully_static(v.shape)) return nullptr;
  auto t = std::make_shared<EvalTensor>();
  t->dtype = v.dtype;
  t->sizes = ir::sizes_of(v.shape);
  const ir::ConstData& d = *v.data;
  auto read = [&](auto span) {
    t->values.reserve(span.size());
    for (auto x : span) t->values.push_back(static_cast<double>(x));
  };
  switch (v.dtype) {
    case DType::kFloat32: read(d.as<float>()); break;
    case DType::kFloat64: read(d.as<double>()); break;
    case DType::kInt8: read(d.as<int8_t>()); break;
    case DType::kUInt8:
    case DType::kBool: read(d.as<uint8_t>()); break;
    case DType::kInt16: read(d.as<int16_t>()); break;
    case DType::kInt32: read(d.as<int32_t>()); break;
    case DType::kInt64:
      for (int64_t x : d.as<int64_t>()) {
        if (std::abs(static_cast<double>(x)) > kMaxExactInt) return nullptr;
        t->values.push_back(static_cast<double>(x));
      }
      break;
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kInt4: return nullptr;  // not evaluated at convert time
  }
  if (static_cast<int64_t>(t->values.size()) != numel(t->sizes)) return nullptr;
  return t;
}

std::vector<uint8_t> to_const_bytes(const EvalTensor& t) {
  auto pack = [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> v;
    v.reserve(t.values.size());
    for (double x : t.values) v.push_back(static_cast<T>(x));
    return ir::to_bytes(std::span<const T>(v));
  };
  switch (t.dtype) {
    case DType::kFloat32: return pack(float{});
    case DType::kFloat64: return pack(double{});
    case DType::kInt8: return pack(int8_t{});
    case DType::kUInt8:
    case DType::kBool: return pack(uint8_t{});
    case DType::kInt16: return pack(int16_t{});
    case DType::kInt32: return pack(int32_t{});
    case DType::kInt64: return pack(int64_t{});
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kInt4: break;
  }
  return {};
}

}  // namespace pt2tflite::passes
