#include "archive/shape_rules.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "archive/json_checks.h"
#include "archive/op_schema.h"
#include "ir/window_size.h"

namespace pt2tflite::archive {
namespace {

using ir::Node;
using ir::Value;
using Sizes = std::vector<int64_t>;

// Integer arguments that feed shape arithmetic (strides, pads, kernel sizes, view sizes) are
// bounded like dims, so the arithmetic below cannot overflow int64.
constexpr int64_t kMaxArg = INT32_MAX;

struct Invalid {
  std::string why;
};
[[noreturn]] void invalid(const std::string& why) { throw Invalid{why}; }

std::string str(const Sizes& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

bool is_static(const Value* v) { return v && ir::is_fully_static(v->shape); }

// Shape context of one node; every accessor validates what it returns.
struct Ctx {
  const Node& n;

  const Value* tensor(std::string_view arg) const { return n.get_tensor(arg); }
  Sizes sizes(const Value* v) const { return ir::sizes_of(v->shape); }
  int rank(std::string_view arg) const { return tensor(arg)->rank(); }
  bool has(std::string_view arg) const { return n.find(arg) && !n.is_none(arg); }
  // The argument is a (non-null) tensor: some overloads take a scalar in the same place.
  bool has_tensor(std::string_view arg) const {
    const ir::Attr* a = n.find(arg);
    return a && std::holds_alternative<Value*>(*a) && std::get<Value*>(*a);
  }

  int64_t bounded(int64_t v, std::string_view what, int64_t lo = -kMaxArg) const {
    if (v < lo || v > kMaxArg) invalid(std::string(what) + " " + std::to_string(v) + " is out of range");
    return v;
  }
  Sizes ints(std::string_view arg, int64_t lo = -kMaxArg) const {
    Sizes out = n.get_ints(arg);
    for (int64_t v : out) bounded(v, arg, lo);
    return out;
  }
  // A dim index for a tensor of `rank`, normalized to [0, rank).
  int64_t dim(int64_t d, int rank, std::string_view what = "dim") const {
    int r = std::max(rank, 1);
    if (d < -r || d >= r)
      invalid(std::string(what) + " " + std::to_string(d) + " is out of range for rank " + std::to_string(rank));
    return d < 0 ? d + r : d;
  }
  // Per-spatial-dim values from a list of 1 (broadcast) or `n` entries.
  Sizes spatial(std::string_view arg, size_t count, int64_t lo, const Sizes& if_empty = {}) const {
    Sizes v = ints(arg, lo);
    if (v.empty() && !if_empty.empty()) return if_empty;
    if (v.size() == 1) v.assign(count, v[0]);
    if (v.size() != count)
      invalid(std::string(arg) + " has " + std::to_string(v.size()) + " entries, expected " + std::to_string(count));
    return v;
  }
};

// True when `a` and `b` differ, but only by dims of size 1 (the same elements in the same order).
bool same_but_unit_dims(const Sizes& a, const Sizes& b) {
  if (a == b) return false;
  Sizes x, y;
  for (int64_t d : a)
    if (d != 1) x.push_back(d);
  for (int64_t d : b)
    if (d != 1) y.push_back(d);
  return x == y;
}

int64_t numel(const Sizes& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;  // ≤ kMaxTensorBytes: checked when the values were declared
  return n;
}

const std::unordered_set<std::string_view>& unary_ops() {
  static const std::unordered_set<std::string_view> s = {"relu",
                                                         "relu6",
                                                         "tanh",
                                                         "sigmoid",
                                                         "gelu",
                                                         "hardtanh",
                                                         "hardswish",
                                                         "hardsigmoid",
                                                         "silu",
                                                         "elu",
                                                         "leaky_relu",
                                                         "exp",
                                                         "log",
                                                         "sqrt",
                                                         "rsqrt",
                                                         "abs",
                                                         "neg",
                                                         "sin",
                                                         "cos",
                                                         "clone",
                                                         "_to_copy",
                                                         "erf",
                                                         "reciprocal",
                                                         "floor",
                                                         "ceil",
                                                         "round",
                                                         "sign",
                                                         "logical_not",
                                                         "bitwise_not",
                                                         "softplus",
                                                         "alias",
                                                         "detach",
                                                         "clamp",
                                                         "clamp_min",
                                                         "clamp_max",
                                                         "mish",
                                                         "log1p",
                                                         "expm1",
                                                         "square",
                                                         "_prelu_kernel",
                                                         "quantize_per_tensor",
                                                         "dequantize_per_tensor",
                                                         "dequantize_per_channel",
                                                         "pow",
                                                         "add",
                                                         "sub",
                                                         "mul",
                                                         "div",
                                                         "rsub",
                                                         "remainder",
                                                         "fmod",
                                                         "eq",
                                                         "ne",
                                                         "lt",
                                                         "le",
                                                         "gt",
                                                         "ge",
                                                         "isnan",
                                                         "trunc"};
  return s;
}

const std::unordered_set<std::string_view>& binary_ops() {
  static const std::unordered_set<std::string_view> s = {
      "add",         "sub",        "mul",  "div",       "pow",  "maximum",     "minimum",     "eq",
      "ne",          "lt",         "le",   "gt",        "ge",   "logical_and", "logical_or",  "logical_xor",
      "bitwise_and", "bitwise_or", "rsub", "remainder", "fmod", "atan2",       "floor_divide"};
  return s;
}

// Output size of a pooling/conv window along one dim (PyTorch's formula, ir/window_size.h).
int64_t window(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t out = ir::torch_window_count(in, k, s, p, d, ceil_mode);
  if (out < 1)
    invalid("the window (kernel " + std::to_string(k) + ", dilation " + std::to_string(d) +
            ") is larger than the padded input " + std::to_string(in + 2 * p));
  return out;
}

// The output shape of `n` computed from its inputs, or nullopt for ops without a rule here.
std::optional<Sizes> expected(const Ctx& c, std::string_view base, std::string_view overload) {
  const Node& n = c.n;
  auto in_sizes = [&](std::string_view a) { return c.sizes(c.tensor(a)); };
  const char* other = base == "pow" ? "exponent" : "other";  // pow.Tensor_Tensor(self, exponent)
  if (binary_ops().count(base) && c.has_tensor("self") && c.has_tensor(other)) {
    auto b = ir::broadcast_sizes(in_sizes("self"), in_sizes(other));
    if (!b) invalid("operands " + str(in_sizes("self")) + " and " + str(in_sizes(other)) + " do not broadcast");
    return b;
  }
  if (binary_ops().count(base) && !c.has_tensor("self") && c.has_tensor(other)) return in_sizes(other);
  if (base == "where" && overload == "self") {
    auto b = ir::broadcast_sizes(in_sizes("condition"), in_sizes("self"));
    if (b) b = ir::broadcast_sizes(*b, in_sizes("other"));
    if (!b) invalid("operands do not broadcast");
    return b;
  }
  if (base == "clamp" && overload == "Tensor" && c.has_tensor("self")) {  // tensor bounds broadcast too
    std::optional<Sizes> b = in_sizes("self");
    for (const char* bound : {"min", "max"})
      if (b && c.has_tensor(bound)) b = ir::broadcast_sizes(*b, in_sizes(bound));
    if (!b) invalid("self, min and max do not broadcast");
    return b;
  }
  if (unary_ops().count(base) && c.has_tensor("self")) return in_sizes("self");
  if (base == "flip" || base == "roll") return in_sizes("self");
  if (base == "_softmax" || base == "_log_softmax" || base == "_safe_softmax" || base == "cumsum") {
    c.dim(n.get_int("dim"), c.rank("self"));
    return in_sizes("self");
  }
  if (base == "convolution") {
    Sizes x = in_sizes("input"), w = in_sizes("weight");
    if (x.size() != 3 && x.size() != 4) invalid("input must be 3-D or 4-D, is " + str(x));
    if (w.size() != x.size()) invalid("weight " + str(w) + " and input " + str(x) + " differ in rank");
    size_t sp = x.size() - 2;
    Sizes stride = c.spatial("stride", sp, 1), pad = c.spatial("padding", sp, 0), dil = c.spatial("dilation", sp, 1);
    int64_t groups = c.bounded(n.get_int("groups"), "groups", 1);
    bool transposed = n.get_bool("transposed");
    int64_t out_ch;
    Sizes out = {x[0]};
    if (!transposed) {
      if (x[1] != w[1] * groups || w[0] % groups != 0)
        invalid("input channels " + std::to_string(x[1]) + " do not match weight " + str(w) + " with groups " +
                std::to_string(groups));
      out_ch = w[0];
      out.push_back(out_ch);
      for (size_t i = 0; i < sp; ++i) out.push_back(window(x[2 + i], w[2 + i], stride[i], pad[i], dil[i], false));
    } else {
      if (x[1] != w[0] || w[0] % groups != 0) invalid("input channels do not match the transposed weight " + str(w));
      Sizes opad = c.spatial("output_padding", sp, 0);
      out_ch = w[1] * groups;
      out.push_back(out_ch);
      for (size_t i = 0; i < sp; ++i) {
        if (opad[i] >= std::max(stride[i], dil[i])) invalid("output_padding must be smaller than stride or dilation");
        int64_t o = (x[2 + i] - 1) * stride[i] - 2 * pad[i] + dil[i] * (w[2 + i] - 1) + opad[i] + 1;
        if (o < 1) invalid("empty output");
        out.push_back(o);
      }
    }
    if (const Value* b = c.tensor("bias"); b && (b->rank() != 1 || b->shape[0].size != out_ch))
      invalid("bias " + ir::shape_to_string(b->shape) + " does not match " + std::to_string(out_ch) +
              " output channels");
    return out;
  }
  if (base == "max_pool2d_with_indices" || base == "avg_pool2d" || base == "max_pool2d") {
    Sizes x = in_sizes("self");
    if (x.size() != 3 && x.size() != 4) invalid("input must be 3-D or 4-D, is " + str(x));
    Sizes k = c.spatial("kernel_size", 2, 1);
    Sizes s = c.spatial("stride", 2, 1, k);
    Sizes p = c.spatial("padding", 2, 0);
    Sizes d = n.find("dilation") ? c.spatial("dilation", 2, 1) : Sizes{1, 1};
    bool ceil_mode = n.get_bool("ceil_mode");
    Sizes out(x.begin(), x.end() - 2);
    for (int i = 0; i < 2; ++i) {
      if (p[i] > k[i] / 2) invalid("padding must be at most half the kernel size");
      out.push_back(window(x[x.size() - 2 + i], k[i], s[i], p[i], d[i], ceil_mode));
    }
    if (base == "avg_pool2d" && c.has("divisor_override") && n.get_int("divisor_override") == 0)
      invalid("divisor_override is 0");
    return out;
  }
  if (base == "_adaptive_avg_pool2d" || base == "adaptive_avg_pool2d") {
    Sizes x = in_sizes("self");
    if (x.size() != 3 && x.size() != 4) invalid("input must be 3-D or 4-D");
    Sizes o = c.spatial("output_size", 2, 1);
    Sizes out(x.begin(), x.end() - 2);
    out.insert(out.end(), o.begin(), o.end());
    return out;
  }
  if (base == "linear") {
    Sizes x = in_sizes("input"), w = in_sizes("weight");
    if (x.empty() || w.size() != 2 || x.back() != w[1]) invalid("input " + str(x) + " does not match weight " + str(w));
    if (const Value* b = c.tensor("bias"); b && (b->rank() > 1 || numel(c.sizes(b)) != w[0]))
      invalid("bias does not match the weight's " + std::to_string(w[0]) + " units");
    x.back() = w[0];
    return x;
  }
  if (base == "mm" || base == "addmm") {
    Sizes a = in_sizes(base == "addmm" ? "mat1" : "self"), b = in_sizes("mat2");
    if (a.size() != 2 || b.size() != 2 || a[1] != b[0])
      invalid("matrices " + str(a) + " and " + str(b) + " do not multiply");
    if (base == "addmm" && !ir::broadcast_sizes(in_sizes("self"), Sizes{a[0], b[1]}))
      invalid("bias does not broadcast");
    return Sizes{a[0], b[1]};
  }
  if (base == "bmm") {
    Sizes a = in_sizes("self"), b = in_sizes("mat2");
    if (a.size() != 3 || b.size() != 3 || a[0] != b[0] || a[2] != b[1])
      invalid("batches " + str(a) + " and " + str(b) + " do not multiply");
    return Sizes{a[0], a[1], b[2]};
  }
  if ((base == "mean" || base == "sum") && overload == "default") return Sizes{};
  if (base == "mean" || base == "sum" || base == "amax" || base == "amin" || base == "any" || base == "all" ||
      base == "argmax" || base == "argmin" || base == "var" || base == "linalg_vector_norm" ||
      ((base == "max" || base == "min") && (overload == "dim" || overload == "default"))) {
    Sizes x = in_sizes("self");
    Sizes dims;
    if (n.find("dim") && std::holds_alternative<int64_t>(*n.find("dim")))
      dims = {n.get_int("dim")};
    else if (c.has("dim"))
      dims = n.get_ints("dim");
    if (!c.has("dim") || dims.empty()) {  // all dims
      for (size_t i = 0; i < x.size(); ++i) dims.push_back(static_cast<int64_t>(i));
    }
    std::vector<bool> reduced(x.size(), false);
    for (int64_t d : dims) {
      int64_t k = c.dim(d, static_cast<int>(x.size()));
      if (x.empty()) continue;
      if (reduced[k]) invalid("dim " + std::to_string(d) + " is reduced twice");
      reduced[k] = true;
    }
    bool keep = n.find("keepdim") && n.get_bool("keepdim");
    Sizes out;
    for (size_t i = 0; i < x.size(); ++i)
      if (!reduced[i])
        out.push_back(x[i]);
      else if (keep)
        out.push_back(1);
    return out;
  }
  if (base == "permute") {
    Sizes x = in_sizes("self"), dims = n.get_ints("dims"), out;
    if (dims.size() != x.size())
      invalid("dims has " + std::to_string(dims.size()) + " entries for rank " + std::to_string(x.size()));
    std::vector<bool> seen(x.size(), false);
    for (int64_t d : dims) {
      int64_t k = c.dim(d, static_cast<int>(x.size()), "dims entry");
      if (seen[k]) invalid("dims is not a permutation");
      seen[k] = true;
      out.push_back(x[k]);
    }
    return out;
  }
  if (base == "transpose") {
    Sizes x = in_sizes("self");
    int64_t a = c.dim(n.get_int("dim0"), static_cast<int>(x.size())),
            b = c.dim(n.get_int("dim1"), static_cast<int>(x.size()));
    if (!x.empty()) std::swap(x[a], x[b]);
    return x;
  }
  if (base == "view" || base == "_unsafe_view" || base == "reshape") {
    Sizes x = in_sizes("self"), size = c.ints(n.find("size") ? "size" : "shape", -1);
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] == -1) {
        if (infer >= 0) invalid("more than one -1 in the view size");
        infer = static_cast<int64_t>(i);
      } else {
        if (size[i] == 0) invalid("a view size of 0");
        known *= size[i];
        if (known > numel(x)) invalid("view size " + str(size) + " does not fit " + str(x));
      }
    }
    if (infer >= 0) {
      if (numel(x) % known != 0) invalid("view size " + str(size) + " does not divide " + str(x));
      size[infer] = numel(x) / known;
    } else if (known != numel(x)) {
      invalid("view size " + str(size) + " has another element count than " + str(x));
    }
    return size;
  }
  if (base == "unsqueeze") {
    Sizes x = in_sizes("self");
    x.insert(x.begin() + c.dim(n.get_int("dim"), static_cast<int>(x.size()) + 1), 1);
    return x;
  }
  if (base == "squeeze" && c.has("dim")) {
    Sizes x = in_sizes("self");
    Sizes dims =
        n.find("dim") && std::holds_alternative<int64_t>(*n.find("dim")) ? Sizes{n.get_int("dim")} : n.get_ints("dim");
    std::vector<bool> drop(x.size(), false);
    for (int64_t d : dims) {
      int64_t k = c.dim(d, static_cast<int>(x.size()));
      if (!x.empty() && x[k] == 1) drop[k] = true;
    }
    Sizes out;
    for (size_t i = 0; i < x.size(); ++i)
      if (!drop[i]) out.push_back(x[i]);
    return out;
  }
  if (base == "select") {
    Sizes x = in_sizes("self");
    if (x.empty()) invalid("select on a 0-d tensor");
    int64_t d = c.dim(n.get_int("dim"), static_cast<int>(x.size()));
    int64_t i = n.get_int("index");
    if (i < -x[d] || i >= x[d]) invalid("index " + std::to_string(i) + " is out of range");
    x.erase(x.begin() + d);
    return x;
  }
  if (base == "slice" || base == "slice_scatter") {
    Sizes x = in_sizes("self");
    if (x.empty()) invalid("slice of a 0-d tensor");
    int64_t d = c.dim(n.get_int("dim"), static_cast<int>(x.size()));
    int64_t step = n.get_int("step");
    if (step < 1 || step > kMaxArg) invalid("step " + std::to_string(step) + " must be positive");
    if (base == "slice_scatter") return x;
    if (const ir::Attr* e = n.find("end"); e && std::holds_alternative<ir::SymRef>(*e))
      return std::nullopt;  // run-time end
    auto clampi = [&](const char* a, int64_t dflt) {
      if (!c.has(a)) return dflt;
      int64_t v = n.get_int(a);  // any int64: PyTorch clamps; no arithmetic on it before clamping
      if (v < 0) v = v < -x[d] ? 0 : v + x[d];
      return std::min(v, x[d]);
    };
    int64_t start = clampi("start", 0), end = clampi("end", x[d]);
    x[d] = end > start ? (end - start + step - 1) / step : 0;  // may be empty: see the zero-size rule in pt2_reader
    return x;
  }
  if (base == "cat") {
    // torch.cat skips 1-D tensors of size 0 whatever the others' rank (the legacy rule that
    // Hugging Face's DynamicCache relies on: its first K/V are concatenated onto torch.tensor([])).
    std::vector<const Value*> ts;
    for (const Value* t : n.get_tensors("tensors"))
      if (c.sizes(t) != Sizes{0}) ts.push_back(t);
    if (ts.empty()) {
      if (n.get_tensors("tensors").empty()) invalid("cat of no tensors");
      return Sizes{0};
    }
    Sizes out = c.sizes(ts[0]);
    int64_t d = c.dim(n.get_int("dim"), static_cast<int>(out.size()));
    for (size_t i = 1; i < ts.size(); ++i) {
      Sizes s = c.sizes(ts[i]);
      if (s.size() != out.size()) invalid("tensors of different ranks");
      for (size_t k = 0; k < s.size(); ++k)
        if (static_cast<int64_t>(k) != d && s[k] != out[k]) invalid("tensors differ outside the cat dim");
      if (!out.empty()) out[d] += s[d];
    }
    if (!out.empty() && out[d] > kMaxArg) invalid("the result is too large");
    return out;
  }
  if (base == "_native_batch_norm_legit_no_training") {
    Sizes x = in_sizes("input");
    if (x.size() < 2) invalid("input must have a channel dim");
    for (const char* a : {"weight", "bias", "running_mean", "running_var"})
      if (const Value* v = c.tensor(a); v && (v->rank() != 1 || v->shape[0].size != x[1]))
        invalid(std::string(a) + " does not have " + std::to_string(x[1]) + " channels");
    return x;
  }
  if (base == "native_layer_norm") {
    Sizes x = in_sizes("input"), shape = c.ints("normalized_shape", 1);
    if (shape.empty() || shape.size() > x.size() || !std::equal(shape.begin(), shape.end(), x.end() - shape.size()))
      invalid("normalized_shape " + str(shape) + " is not the trailing dims of " + str(x));
    for (const char* a : {"weight", "bias"})
      if (const Value* v = c.tensor(a); v && c.sizes(v) != shape)
        invalid(std::string(a) + " does not have the normalized shape");
    return x;
  }
  if (base == "native_group_norm") {
    Sizes x = in_sizes("input");
    int64_t g = c.bounded(n.get_int("group"), "group", 1);
    if (x.size() < 2 || x[1] % g != 0) invalid("channels are not divisible by the groups");
    return x;
  }
  if (base == "upsample_bilinear2d" || base == "upsample_nearest2d") {
    Sizes x = in_sizes(c.has_tensor("input") ? "input" : "self");
    if (x.size() != 4) invalid("input must be 4-D");
    if (c.has("output_size")) {
      Sizes o = c.spatial("output_size", 2, 1);
      return Sizes{x[0], x[1], o[0], o[1]};
    }
    if (const ir::Attr* a = n.find("scale_factors"); a && std::holds_alternative<std::vector<double>>(*a)) {
      const auto& s = std::get<std::vector<double>>(*a);
      if (s.size() != 2) invalid("scale_factors must have 2 entries");
      Sizes out = {x[0], x[1]};
      for (int i = 0; i < 2; ++i) {
        if (!(s[i] > 0) || !(s[i] * static_cast<double>(x[2 + i]) < static_cast<double>(kMaxArg)))
          invalid("scale factor out of range");
        out.push_back(static_cast<int64_t>(static_cast<double>(x[2 + i]) * s[i]));
        if (out.back() < 1) invalid("empty output");
      }
      return out;
    }
    invalid("neither output_size nor scale_factors is given");
  }
  if (base == "constant_pad_nd") {
    Sizes x = in_sizes("self"), pad = c.ints("pad");
    if (pad.size() % 2 != 0 || pad.size() > 2 * x.size())
      invalid("pad has " + std::to_string(pad.size()) + " entries for rank " + std::to_string(x.size()));
    for (size_t i = 0; i < pad.size() / 2; ++i) {
      int64_t& d = x[x.size() - 1 - i];
      d += pad[2 * i] + pad[2 * i + 1];
      if (d < 1 || d > kMaxArg) invalid("padding gives an empty or oversized dim");
    }
    return x;
  }
  if (base == "expand") {
    Sizes x = in_sizes("self"), size = c.ints("size", -1);
    if (size.size() < x.size()) invalid("expand to fewer dims");
    size_t lead = size.size() - x.size();
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] == -1) {
        if (i < lead) invalid("-1 in a new leading dim");
        size[i] = x[i - lead];
      } else if (size[i] < 1) {
        invalid("expand size must be positive");
      } else if (i >= lead && x[i - lead] != 1 && x[i - lead] != size[i]) {
        invalid("cannot expand " + str(x) + " to " + str(size));
      }
    }
    return size;
  }
  // Ops whose result has their first tensor operand's shape.
  static const std::unordered_set<std::string_view> same_as_self = {
      "atan",      "tan",       "exp2",       "log10",     "log2", "contiguous", "lift_fresh_copy", "to", "zeros_like",
      "ones_like", "full_like", "index_copy", "index_put", "tril", "triu"};
  if (same_as_self.count(base)) return in_sizes("self");
  if (binary_ops().count(base) && c.has_tensor("self")) return in_sizes("self");  // a number for `other`
  if (base == "copy") {  // self.copy_(src): src broadcasts to self
    if (ir::broadcast_sizes(in_sizes("self"), in_sizes("src")) != in_sizes("self"))
      invalid("src " + str(in_sizes("src")) + " does not broadcast to self " + str(in_sizes("self")));
    return in_sizes("self");
  }
  if (base == "masked_fill") {  // the mask broadcasts to self; a tensor value is 0-d
    if (ir::broadcast_sizes(in_sizes("self"), in_sizes("mask")) != in_sizes("self"))
      invalid("mask " + str(in_sizes("mask")) + " does not broadcast to self " + str(in_sizes("self")));
    if (c.has_tensor("value") && c.rank("value") != 0) invalid("value must be a 0-d tensor");
    return in_sizes("self");
  }
  if (base == "full" || base == "zeros" || base == "ones" || base == "new_full" || base == "new_zeros" ||
      base == "new_ones" || base == "as_strided")
    return c.ints("size", 0);
  if (base == "scalar_tensor") return Sizes{};
  if (base == "t") {
    Sizes x = in_sizes("self");
    if (x.size() > 2) invalid("t() of a tensor of rank " + std::to_string(x.size()));
    std::reverse(x.begin(), x.end());
    return x;
  }
  if (base == "embedding") {
    Sizes w = in_sizes("weight"), out = in_sizes("indices");
    if (w.size() != 2) invalid("weight must be 2-D, is " + str(w));
    out.push_back(w[1]);
    return out;
  }
  if (base == "gather") {  // index has self's rank and no larger size outside dim
    Sizes x = in_sizes("self"), index = in_sizes("index");
    int64_t d = c.dim(n.get_int("dim"), static_cast<int>(x.size()));
    if (index.size() != x.size() && !(x.empty() && index.size() <= 1))
      invalid("index " + str(index) + " and self " + str(x) + " differ in rank");
    for (size_t i = 0; i < x.size() && i < index.size(); ++i)
      if (static_cast<int64_t>(i) != d && index[i] > x[i])
        invalid("index " + str(index) + " is larger than self " + str(x));
    return index;
  }
  if (base == "index_select") {
    Sizes x = in_sizes("self"), index = in_sizes("index");
    if (index.size() > 1) invalid("index must be 0-D or 1-D, is " + str(index));
    if (x.empty()) return x;
    x[c.dim(n.get_int("dim"), static_cast<int>(x.size()))] = numel(index);
    return x;
  }
  if (base == "grid_sampler_2d") {
    Sizes x = in_sizes("input"), grid = in_sizes("grid");
    if (x.size() != 4 || grid.size() != 4 || grid[3] != 2 || grid[0] != x[0])
      invalid("input " + str(x) + " and grid " + str(grid) + " are not [N,C,H,W] and [N,H',W',2]");
    return Sizes{x[0], x[1], grid[1], grid[2]};
  }
  if (base == "pixel_shuffle") {
    Sizes x = in_sizes("self");
    int64_t r = c.bounded(n.get_int("upscale_factor"), "upscale_factor", 1);
    if (x.size() < 3 || x[x.size() - 3] % (r * r) != 0)
      invalid("channels of " + str(x) + " are not divisible by upscale_factor² " + std::to_string(r * r));
    const size_t k = x.size() - 3;
    x[k] /= r * r, x[k + 1] *= r, x[k + 2] *= r;
    if (x[k + 1] > kMaxArg || x[k + 2] > kMaxArg) invalid("the result is too large");
    return x;
  }
  if (base.starts_with("reflection_pad") || base.starts_with("replication_pad")) {
    Sizes x = in_sizes("self"), pad = c.ints("padding");
    const size_t spatial = static_cast<size_t>(base[base.size() - 2] - '0');  // ..._pad1d / 2d / 3d
    if (pad.size() != 2 * spatial || x.size() < spatial + 1 || x.size() > spatial + 2)
      invalid("padding " + str(pad) + " does not fit input " + str(x));
    for (size_t i = 0; i < spatial; ++i) {
      int64_t& d = x[x.size() - 1 - i];
      const int64_t lo = pad[2 * i], hi = pad[2 * i + 1];
      if (base.starts_with("reflection_pad") && (lo >= d || hi >= d || lo < 0 || hi < 0))
        invalid("reflection padding must be non-negative and smaller than the dim it pads");
      d += lo + hi;
      if (d < 1 || d > kMaxArg) invalid("padding gives an empty or oversized dim");
    }
    return x;
  }
  if (base == "repeat") {
    Sizes x = in_sizes("self"), reps = c.ints("repeats", 0);
    if (reps.size() < x.size()) invalid("repeats has fewer entries than self has dims");
    const size_t lead = reps.size() - x.size();
    for (size_t i = lead; i < reps.size(); ++i) {
      reps[i] *= x[i - lead];
      if (reps[i] > kMaxArg) invalid("the result is too large");
    }
    return reps;
  }
  if (base == "unfold") {  // the window dim shrinks to the window count, and the window is appended
    Sizes x = in_sizes("self");
    if (x.empty()) return std::nullopt;
    int64_t d = c.dim(n.get_int("dimension"), static_cast<int>(x.size()), "dimension");
    int64_t size = c.bounded(n.get_int("size"), "size", 0), step = c.bounded(n.get_int("step"), "step", 1);
    if (size > x[d]) invalid("size " + std::to_string(size) + " is larger than the dim " + std::to_string(x[d]));
    x[d] = (x[d] - size) / step + 1;
    x.push_back(size);
    return x;
  }
  if (base == "index" && overload == "Tensor") {
    // x[i0, i1, ...] with integer index tensors (None skips a dim): the indices broadcast to B, which
    // replaces the indexed dims where they are adjacent, and goes first where they are not. A
    // boolean mask's size depends on its values: no rule.
    Sizes x = in_sizes("self");
    const auto& indices = n.get_tensors("indices");
    if (indices.size() > x.size()) invalid("more indices than dims");
    std::optional<Sizes> b = Sizes{};
    std::vector<size_t> indexed;
    for (size_t i = 0; i < indices.size(); ++i) {
      const Value* t = indices[i];
      if (!t) continue;
      if (t->dtype == ir::DType::kBool || t->dtype == ir::DType::kUInt8) return std::nullopt;
      b = ir::broadcast_sizes(*b, c.sizes(t));
      if (!b) invalid("the index tensors do not broadcast");
      indexed.push_back(i);
    }
    if (indexed.empty()) return x;
    const bool adjacent = indexed.back() - indexed.front() + 1 == indexed.size();
    Sizes out;
    for (size_t i = 0; i < x.size(); ++i) {
      const bool is_indexed = std::find(indexed.begin(), indexed.end(), i) != indexed.end();
      if (adjacent && i == indexed.front()) out.insert(out.end(), b->begin(), b->end());
      if (!is_indexed) out.push_back(x[i]);
    }
    if (!adjacent) out.insert(out.begin(), b->begin(), b->end());
    return out;
  }
  if (base.starts_with("quantize_per") || base.starts_with("dequantize_per")) return in_sizes("input");
  if (base == "sort" || base == "_native_batch_norm_legit") return in_sizes(base == "sort" ? "self" : "input");
  if (base == "topk") {
    Sizes x = in_sizes("self");
    int64_t k = n.get_int("k");
    if (x.empty()) {
      if (k < 0 || k > 1) invalid("k " + std::to_string(k) + " is out of range");
      return x;
    }
    int64_t d = c.dim(n.get_int("dim"), static_cast<int>(x.size()));
    if (k < 0 || k > x[d]) invalid("k " + std::to_string(k) + " is out of range for size " + std::to_string(x[d]));
    x[d] = k;
    return x;
  }
  return std::nullopt;
}

// The shapes of the outputs after the first, for the ops with several: values and indices have one
// shape; split_with_sizes gives one piece per size (the first one's included here).
std::vector<std::pair<size_t, Sizes>> expected_more(const Ctx& c, std::string_view base, const Sizes& first) {
  if (base == "sort" || base == "topk" || base == "max_pool2d_with_indices") return {{1, first}};
  if ((base == "max" || base == "min") && c.n.outputs.size() == 2) return {{1, first}};  // max.dim's indices
  if (base != "split_with_sizes") return {};
  Sizes x = c.sizes(c.tensor("self")), sizes = c.ints("split_sizes", 0);
  if (x.empty()) invalid("split of a 0-d tensor");
  int64_t d = c.dim(c.n.get_int("dim"), static_cast<int>(x.size()));
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (total != x[d]) invalid("split_sizes " + str(sizes) + " do not add up to the size " + std::to_string(x[d]));
  std::vector<std::pair<size_t, Sizes>> out;
  for (size_t i = 0; i < sizes.size(); ++i) {
    Sizes piece = x;
    piece[d] = sizes[i];
    out.push_back({i, piece});
  }
  return out;
}

const std::unordered_set<std::string_view>& dtype_preserving_ops() {
  static const std::unordered_set<std::string_view> s = {"relu",
                                                         "relu6",
                                                         "tanh",
                                                         "sigmoid",
                                                         "gelu",
                                                         "hardtanh",
                                                         "hardswish",
                                                         "hardsigmoid",
                                                         "silu",
                                                         "elu",
                                                         "leaky_relu",
                                                         "exp",
                                                         "log",
                                                         "sqrt",
                                                         "rsqrt",
                                                         "abs",
                                                         "neg",
                                                         "sin",
                                                         "cos",
                                                         "clone",
                                                         "erf",
                                                         "reciprocal",
                                                         "floor",
                                                         "ceil",
                                                         "round",
                                                         "sign",
                                                         "softplus",
                                                         "alias",
                                                         "detach",
                                                         "mish",
                                                         "log1p",
                                                         "expm1",
                                                         "square",
                                                         "_prelu_kernel",
                                                         "_softmax",
                                                         "_log_softmax",
                                                         "_safe_softmax",
                                                         "convolution",
                                                         "max_pool2d_with_indices",
                                                         "max_pool2d",
                                                         "avg_pool2d",
                                                         "_adaptive_avg_pool2d",
                                                         "adaptive_avg_pool2d",
                                                         "linear",
                                                         "mm",
                                                         "addmm",
                                                         "bmm",
                                                         "permute",
                                                         "transpose",
                                                         "view",
                                                         "_unsafe_view",
                                                         "reshape",
                                                         "unsqueeze",
                                                         "squeeze",
                                                         "select",
                                                         "slice",
                                                         "slice_scatter",
                                                         "_native_batch_norm_legit_no_training",
                                                         "native_layer_norm",
                                                         "native_group_norm",
                                                         "upsample_bilinear2d",
                                                         "upsample_nearest2d",
                                                         "constant_pad_nd",
                                                         "expand",
                                                         "amax",
                                                         "amin",
                                                         "trunc",
                                                         "sort",
                                                         "topk",
                                                         "index_put",
                                                         "index_copy"};
  return s;
}

const std::unordered_set<std::string_view>& predicate_ops() {
  static const std::unordered_set<std::string_view> s = {
      "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "isnan"};
  return s;
}

bool is_integral(ir::DType t) { return !ir::is_floating(t); }  // bool counts as integral here

// The output dtype against the inputs', for the ops where PyTorch fixes it: a lowering emits
// kernels for the declared dtypes, and LiteRT refuses a model whose dtypes do not line up.
void check_dtype(const Ctx& c, std::string_view base) {
  const Node& n = c.n;
  const Value* out = n.outputs.empty() ? nullptr : n.outputs[0];
  if (!out) return;
  const Value* first = c.has_tensor("self")    ? n.get_tensor("self")
                       : c.has_tensor("input") ? n.get_tensor("input")
                       : c.has_tensor("other") ? n.get_tensor("other")
                                               : nullptr;
  auto name = [](ir::DType t) { return std::string(ir::dtype_name(t)); };
  if (base.starts_with("quantize_per") || base.starts_with("dequantize_per")) {
    // PT2E's Q/DQ: the quantized side has the `dtype` argument's type, the other side is float.
    // The lowerings emit QUANTIZE/DEQUANTIZE for the declared types, and LiteRT's kernels refuse
    // any other pairing (a float QUANTIZE output, an int16 one with a zero point).
    const Value* x = n.get_tensor("input");
    const auto q = ir::dtype_from_torch_scalar_type(n.get_int("dtype"));
    const bool quantize = base.starts_with("quantize");
    const Value* quantized = quantize ? out : x;
    const Value* real = quantize ? x : out;
    if (!q || quantized->dtype != *q)
      invalid(std::string(quantize ? "declares output" : "reads input") + " dtype " + name(quantized->dtype) +
              ", the dtype argument is " + (q ? name(*q) : "not a tensor dtype"));
    if (!ir::is_floating(real->dtype))
      invalid(std::string(quantize ? "reads input" : "declares output") + " dtype " + name(real->dtype) +
              "; the real-valued side must be floating-point");
    return;
  }
  if (predicate_ops().count(base)) {
    if (out->dtype != ir::DType::kBool) invalid("declares output dtype " + name(out->dtype) + ", the op gives bool");
    return;
  }
  // Products lower to CONV_2D / FULLY_CONNECTED / BATCH_MATMUL, which take float tensors here (a
  // PT2E model's are dequantized first); an integer operand would give a file LiteRT refuses.
  static const std::unordered_set<std::string_view> float_products = {"convolution", "linear", "addmm",  "mm",
                                                                      "bmm",         "matmul", "baddbmm"};
  if (float_products.count(base)) {
    for (const auto& [arg, attr] : n.args)
      if (const auto* v = std::get_if<Value*>(&attr); v && *v && !ir::is_floating((*v)->dtype))
        invalid("operand '" + arg + "' is " + name((*v)->dtype) +
                "; this product is supported on floating-point "
                "tensors only");
  }
  if (binary_ops().count(base) && c.has_tensor("self") && c.has_tensor("other")) {
    ir::DType a = n.get_tensor("self")->dtype, b = n.get_tensor("other")->dtype;
    if (is_integral(out->dtype) && (!is_integral(a) || !is_integral(b)))
      invalid("declares an integer output dtype " + name(out->dtype) + " for float operands");
    if (out->dtype == ir::DType::kBool && (a != ir::DType::kBool || b != ir::DType::kBool))
      invalid("declares a bool output for non-bool operands");
    return;
  }
  if (binary_ops().count(base) || unary_ops().count(base)) {
    // With a number as the other operand, a float tensor keeps its dtype (f32 * 2.0 is f32).
    if (first && ir::is_floating(first->dtype) && out->dtype != first->dtype && base != "_to_copy" &&
        !base.starts_with("quantize") && !base.starts_with("dequantize"))
      invalid("declares output dtype " + name(out->dtype) + " for a " + name(first->dtype) + " operand and a number");
  }
  // Views and data movement keep any dtype; math ops keep a float dtype (an integer input may be
  // promoted: torch.exp of an int64 tensor is float).
  static const std::unordered_set<std::string_view> moves = {
      "permute", "transpose", "view",      "_unsafe_view",  "reshape", "unsqueeze",
      "squeeze", "select",    "slice",     "slice_scatter", "expand",  "constant_pad_nd",
      "clone",   "alias",     "detach",    "amax",          "amin",    "max_pool2d_with_indices",
      "sort",    "topk",      "index_put", "index_copy"};
  if (dtype_preserving_ops().count(base) && first && out->dtype != first->dtype &&
      (moves.count(base) || ir::is_floating(first->dtype)))
    invalid("declares output dtype " + name(out->dtype) + ", the op keeps the input's " + name(first->dtype));
  // The indices beside a sort's, topk's, max.dim's or a pool's values are int64: ARG_MAX and
  // TOPK_V2 write integers, and a reader typed by a float declaration gave a MUL LiteRT refuses.
  static const std::unordered_set<std::string_view> with_indices = {"sort", "topk", "max", "min",
                                                                    "max_pool2d_with_indices"};
  if (with_indices.count(base) && n.outputs.size() == 2 && n.outputs[1] && n.outputs[1]->dtype != ir::DType::kInt64)
    invalid("declares indices output dtype " + name(n.outputs[1]->dtype) + ", the op gives i64");
  // A write into a tensor takes the tensor's dtype (PyTorch refuses other values): a KV cache
  // re-declared float16 under float32 writes gave a BATCH_MATMUL that LiteRT refuses.
  static const std::array<std::pair<std::string_view, std::string_view>, 3> writes = {
      {{"index_put", "values"}, {"index_copy", "source"}, {"slice_scatter", "src"}}};
  for (const auto& [op, arg] : writes)
    if (base == op && first && c.has_tensor(arg) && n.get_tensor(arg)->dtype != first->dtype)
      invalid("writes " + name(n.get_tensor(arg)->dtype) + " values into a " + name(first->dtype) + " tensor");
}

// Generic argument checks that need only the input's rank, so that they also hold when its sizes
// are symbolic (the size rules above skip those): named dim arguments in range, unsqueeze's dim
// up to the rank, expand to no fewer dims, and permute's dims a permutation of the rank (a fuzzed `dims` of [0, 1, 11,
// 2] on a tensor with a run-time dim reached the lowering's inverse permutation, out of bounds).
void check_dims(const Ctx& c, std::string_view base) {
  const Node& n = c.n;
  if (unary_ops().count(base) || binary_ops().count(base) || base == "where" || base == "clamp") {
    // Elementwise: the output has the largest operand rank (PyTorch broadcasting). The lowerings
    // prepend leading 1s to the smaller operands up to the output's rank, so a lower declared rank
    // would be a negative count (a run-time dim skips the size rule that would catch it). A higher
    // one is legal: torch.export declares `buffer.copy_(scalar)`'s reader with the buffer's [1].
    int operand_rank = -1;
    for (const char* a : {"self", "other", "exponent", "condition", "min", "max", "input", "weight"})
      if (c.has_tensor(a)) operand_rank = std::max(operand_rank, n.get_tensor(a)->rank());
    const Value* y = n.outputs.empty() ? nullptr : n.outputs[0];
    if (y && y->rank() < operand_rank)
      invalid("declares an output of rank " + std::to_string(y->rank()) + " for an operand of rank " +
              std::to_string(operand_rank));
  }
  if (base == "arange") {  // the lowerings read the count from the output's one dim
    const Value* y = n.outputs.empty() ? nullptr : n.outputs[0];
    if (y && y->rank() != 1)
      invalid("declares an output of rank " + std::to_string(y->rank()) + "; arange gives rank 1");
    return;
  }
  if (base == "cat") {
    // Every input has the output's rank (PyTorch also skips legacy empty 1-D inputs), and dim is
    // within it; the lowerings index each input's dims by the output's.
    const ir::Attr* a = n.find("tensors");
    const auto* list = a ? std::get_if<std::vector<Value*>>(a) : nullptr;
    const Value* y = n.outputs.empty() ? nullptr : n.outputs[0];
    if (!list || !y) return;
    for (const Value* t : *list) {
      const bool legacy_empty = t && t->rank() == 1 && t->shape[0].is_static() && t->shape[0].size == 0;
      if (t && !legacy_empty && t->rank() != y->rank())
        invalid("an input of rank " + std::to_string(t->rank()) + " for an output of rank " +
                std::to_string(y->rank()));
    }
    if (c.has("dim")) c.dim(n.get_int("dim"), y->rank(), "dim");
    return;
  }
  const Value* x = c.has_tensor("self")    ? n.get_tensor("self")
                   : c.has_tensor("input") ? n.get_tensor("input")
                                           : nullptr;
  if (!x) return;
  const int rank = x->rank();
  if (base == "unsqueeze") {
    c.dim(n.get_int("dim"), rank + 1, "dim");
    return;
  }
  if (base == "expand") {
    // The size rule needs static input sizes; the ranks are known either way, and a lowering that
    // prepends the new leading dims must never see an output of lower rank (a fuzzed archive
    // expanded a tensor with a run-time dim to fewer dims: a negative count of leading dims).
    const Value* y = n.outputs.empty() ? nullptr : n.outputs[0];
    if (y && y->rank() < rank)
      invalid("expand to rank " + std::to_string(y->rank()) + " from rank " + std::to_string(rank));
    const ir::Attr* size = n.find("size");
    const auto* s = size ? std::get_if<Sizes>(size) : nullptr;
    if (s && y && s->size() != static_cast<size_t>(y->rank()))
      invalid("size has " + std::to_string(s->size()) + " entries for an output of rank " + std::to_string(y->rank()));
    return;
  }
  if (base == "index") {
    // x[i0, i1, ...]: each integer index consumes one dim, a boolean mask as many as its rank; the
    // indices broadcast to B, which replaces the consumed dims. The lowerings place B by these
    // ranks, so a declared output rank that disagrees would send them past the output's dims.
    const ir::Attr* a = n.find("indices");
    const auto* list = a ? std::get_if<std::vector<Value*>>(a) : nullptr;
    if (!list) return;
    if (list->size() > static_cast<size_t>(rank))
      invalid("indices has " + std::to_string(list->size()) + " entries for rank " + std::to_string(rank));
    int consumed = 0, b_rank = 0;
    for (const Value* t : *list) {
      if (!t) continue;
      const bool mask = t->dtype == ir::DType::kBool || t->dtype == ir::DType::kUInt8;
      consumed += mask ? t->rank() : 1;
      b_rank = std::max(b_rank, mask ? 1 : t->rank());
    }
    if (consumed > rank)
      invalid("the indices consume " + std::to_string(consumed) + " dims of rank " + std::to_string(rank));
    const Value* y = n.outputs.empty() ? nullptr : n.outputs[0];
    if (y && y->rank() != rank - consumed + b_rank)
      invalid("declares an output of rank " + std::to_string(y->rank()) + "; indexing gives rank " +
              std::to_string(rank - consumed + b_rank));
    return;
  }
  if (base == "permute") {
    const Sizes& dims = n.get_ints("dims");
    if (dims.size() != static_cast<size_t>(rank))
      invalid("dims has " + std::to_string(dims.size()) + " entries for rank " + std::to_string(rank));
    std::vector<bool> seen(rank, false);
    for (int64_t d : dims) {
      int64_t k = c.dim(d, rank, "dims entry");
      if (seen[k]) invalid("dims is not a permutation");
      seen[k] = true;
    }
    return;
  }
  // These keep the input's rank, whatever their sizes (a slice to a run-time end has no size rule:
  // a fuzzed one declared a lower rank, and lower_slice_to_runtime_end indexed past it).
  if (base == "flip" || base == "roll" || base == "slice" || base == "slice_scatter") {
    const Value* y = n.outputs.empty() ? nullptr : n.outputs[0];
    if (y && y->rank() != rank)
      invalid("declares an output of rank " + std::to_string(y->rank()) + " for an input of rank " +
              std::to_string(rank));
  }
  for (const char* a : {"dim", "dim0", "dim1", "start_dim", "end_dim", "axis", "dims"}) {
    const ir::Attr* v = n.find(a);
    if (v && std::holds_alternative<int64_t>(*v)) c.dim(std::get<int64_t>(*v), rank, a);
    if (v && std::holds_alternative<Sizes>(*v))
      for (int64_t d : std::get<Sizes>(*v)) c.dim(d, rank, a);
  }
}

// A view keeps the element count. With run-time dims that is checkable where the input and the
// declared output hold the same run-time dims (the same symbols, as often): the products of their
// static dims must then agree; and a run-time count never equals a static one. Other views (a
// flatten to "12*s0") are left to the run-time RESHAPE; hints are not compared, as an unbacked
// size has none.
std::string check_symbolic_view(const Value* x, const Value* y) {
  if (!x || !y) return {};
  auto split = [](const Value* v, int64_t& product) {
    std::vector<std::string> symbols;
    product = 1;
    for (const ir::Dim& d : v->shape)
      if (d.is_static())
        product *= d.size;  // ≤ kMaxTensorBytes: checked when the values were declared
      else
        symbols.push_back(d.symbol);
    std::sort(symbols.begin(), symbols.end());
    return symbols;
  };
  int64_t in_static = 1, out_static = 1;
  const std::vector<std::string> in_symbols = split(x, in_static), out_symbols = split(y, out_static);
  // A run-time count cannot equal a fixed one: torch.export would have specialized the dim.
  const bool one_side_static = in_symbols.empty() != out_symbols.empty();
  if (!one_side_static && (in_symbols != out_symbols || in_static == out_static)) return {};
  return "views " + ir::shape_to_string(x->shape) + " as " + ir::shape_to_string(y->shape) +
         ", which has another element count";
}

// For a node with symbolic dims, whose sizes only their hints give: the ranks its size rule
// computes from the hints, against the declared ranks (the lowerings index dims by them). The
// hints are the sizes of the example torch.export traced, so a rule that accepts every legitimate
// static graph accepts them; its refusal is the node's error, unless an argument may restate a
// run-time size. A fuzzed archive declared a linear of an [s77] input as [s77, 6], which the rule
// refuses at any hint but 6, and the softmax after it indexed a dim the lowered tensor does not
// have. An unbacked symbol (`.item()`) has no hint, and 1 stands in: the ops on `x[:n]` that
// convert accept it (linear, softmax, flip, cat, mean, matmul), and a rule that refused it would
// refuse the node cleanly, where trusting the declared shape crashed. Squeeze is left out:
// whether it drops a dim depends on the size, not the hint.
std::string check_rank_with_hints(const Ctx& c, std::string_view base, std::string_view overload) {
  if (base == "squeeze") return {};
  const Node& n = c.n;
  if (base == "view" || base == "_unsafe_view" || base == "reshape") {
    if (std::string why = check_symbolic_view(n.get_tensor("self"), n.outputs.empty() ? nullptr : n.outputs[0]);
        !why.empty())
      return why;
  }
  std::optional<Sizes> want;
  std::vector<std::pair<size_t, Sizes>> more;
  try {
    want = expected(c, base, overload);
    more = expected_more(c, base, want.value_or(Sizes{}));
  } catch (const Invalid& e) {
    if (args_may_restate_runtime_sizes(n.op)) return {};
    return e.why + " (at the example sizes of its run-time dims)";
  }
  if (want) more.insert(more.begin(), {0, *want});
  for (const auto& [i, sizes] : more) {
    const Value* o = i < n.outputs.size() ? n.outputs[i] : nullptr;
    if (!o) continue;
    if (static_cast<size_t>(o->rank()) != sizes.size())
      return "declares output " + std::to_string(i) + " of rank " + std::to_string(o->rank()) + "; the op gives rank " +
             std::to_string(sizes.size());
    // A dim torch.export declares static holds for every value of the symbols, the hints included,
    // so the rule's result at the hints must give it too; a lowering trusts it (a RESHAPE built
    // from a declared 12 where the op gives 6 has no valid size at run time).
    for (size_t d = 0; d < sizes.size(); ++d)
      if (o->shape[d].is_static() && o->shape[d].size != sizes[d])
        return "declares output " + std::to_string(i) + " as " + ir::shape_to_string(o->shape) + "; the op gives " +
               std::to_string(sizes[d]) + " for dim " + std::to_string(d);
  }
  return {};
}

}  // namespace

void expand_one_element_lists(ir::Node& node) {
  static constexpr std::array<const char*, 4> kConv = {"stride", "padding", "dilation", "output_padding"};
  static constexpr std::array<const char*, 4> kPool = {"kernel_size", "stride", "padding", "dilation"};
  const std::array<const char*, 4>* args = nullptr;
  size_t spatial = 0;
  if (node.op == "aten.convolution.default") {
    const ir::Attr* in = node.find("input");
    const Value* x = in && std::holds_alternative<Value*>(*in) ? std::get<Value*>(*in) : nullptr;
    if (!x || x->rank() < 3) return;
    spatial = static_cast<size_t>(x->rank() - 2);
    args = &kConv;
  } else if (node.op == "aten.max_pool2d_with_indices.default" || node.op == "aten.max_pool2d.default" ||
             node.op == "aten.avg_pool2d.default") {
    spatial = 2;
    args = &kPool;
  } else {
    return;
  }
  for (const char* name : *args) {
    const ir::Attr* a = node.find(name);
    const auto* list = a ? std::get_if<std::vector<int64_t>>(a) : nullptr;
    if (list && list->size() == 1 && spatial > 1) node.set(name, std::vector<int64_t>(spatial, (*list)[0]));
  }
}

std::string check_node_shapes(const ir::Node& node) {
  // "aten.add.Tensor" → base "add", overload "Tensor".
  std::string_view op = node.op;
  size_t first = op.find('.'), last = op.rfind('.');
  if (first == std::string_view::npos || first == last) return {};
  std::string_view base = op.substr(first + 1, last - first - 1), overload = op.substr(last + 1);
  Ctx c{node};
  try {
    check_dims(c, base);
    check_dtype(c, base);
    // Symbolic dims on either side: only the hints give sizes. An output declared symbolic while
    // every operand is static is checked the same way (a fuzzed archive declared a linear of a
    // [6] input as [s77, 6], and the softmax after it indexed a dim the tensor does not have).
    for (const Value* v : node.operands())
      if (!is_static(v)) return check_rank_with_hints(c, base, overload);
    for (const Value* v : node.outputs)
      if (v && !is_static(v)) return check_rank_with_hints(c, base, overload);
    std::optional<Sizes> want = expected(c, base, overload);
    Value* out = node.outputs.empty() ? nullptr : node.outputs[0];
    if (want && out && is_static(out) && same_but_unit_dims(*want, ir::sizes_of(out->shape))) {
      // torch.export declares a functionalized `buffer.copy_(scalar)` reader with the buffer's
      // shape ([1]) while its operand is the scalar ([]). The values are the same; the computed
      // shape is the one every kernel will produce, so the graph carries that one from here on.
      out->shape = ir::static_shape(*want);
    }
    if (want && out && is_static(out) && *want != ir::sizes_of(out->shape))
      invalid("declared output shape " + ir::shape_to_string(out->shape) + " differs from the computed " + str(*want));
    for (const auto& [i, sizes] : expected_more(c, base, want.value_or(Sizes{}))) {
      const Value* o = i < node.outputs.size() ? node.outputs[i] : nullptr;
      if (o && is_static(o) && sizes != ir::sizes_of(o->shape))
        invalid("declared shape " + ir::shape_to_string(o->shape) + " of output " + std::to_string(i) +
                " differs from the computed " + str(sizes));
    }
  } catch (const Invalid& e) {
    return e.why;
  }
  return {};
}

}  // namespace pt2tflite::archive
