// Writes of a block of consecutive rows into a tensor at a run-time position: the KV-cache update
// of a generative model (`cache.index_copy_(2, arange(T) + pos, k)`, which torch.export turns into
// index_put). It becomes one DYNAMIC_UPDATE_SLICE, which LiteRT runs in place when the runtime
// binds the cache input and output to one buffer. Only a write whose rows are provably
// consecutive (arange(T) plus one start value) is taken: a scatter to arbitrary rows is refused,
// because DYNAMIC_UPDATE_SLICE writes a contiguous block from the first position.
#include <optional>

#include "ir/constants.h"
#include "lower/cache_write.h"
#include "lower/rules.h"

namespace pt2tflite::lower {
namespace {

using ir::Value;

// The start of an index known to be start, start + 1, ..., start + T - 1: a run-time tensor of one
// element, or a compile-time offset.
struct ContiguousStart {
  const Value* tensor = nullptr;  // null: the start is `offset`
  int64_t offset = 0;
};

int64_t numel_or_minus1(const Value* v) { return ir::is_fully_static(v->shape) ? ir::num_elements(v->shape) : -1; }

// arange(T) written any of the ways torch.export records it (start 0, step 1, end T), or the
// constant 0, 1, ..., T-1 that evaluate_constants computed from it.
bool is_arange(const Value* v, int64_t count) {
  if (v->rank() != 1 || !v->shape[0].is_static() || v->shape[0].size != count) return false;
  if (v->is_const()) {
    if (ir::is_floating(v->dtype) || v->dtype == ir::DType::kBool) return false;
    const std::vector<int64_t> values = ir::to_int_vector(*v);
    for (int64_t i = 0; i < count; ++i)
      if (values[i] != i) return false;
    return true;
  }
  const ir::Node* p = v->producer;
  if (!p) return false;
  auto int_arg = [&](const char* name, int64_t dflt) {
    const ir::Attr* a = p->find(name);
    if (!a || std::holds_alternative<std::monostate>(*a)) return dflt;
    const int64_t* i = std::get_if<int64_t>(a);
    return i ? *i : int64_t{-1};  // a float or symbolic bound: not recognised
  };
  if (p->op == "aten.arange.default") return int_arg("end", -1) == count;
  if (p->op == "aten.arange.start" || p->op == "aten.arange.start_step")
    return int_arg("start", 0) == 0 && int_arg("end", -1) == count && int_arg("step", 1) == 1;
  return false;
}

std::optional<ContiguousStart> contiguous_start(const Value* idx, int64_t count) {
  if (is_arange(idx, count)) return ContiguousStart{};
  const ir::Node* p = idx->producer;
  if (!p || (p->op != "aten.add.Tensor" && p->op != "aten.add.Scalar")) return std::nullopt;
  if (const ir::Attr* alpha = p->find("alpha");
      alpha && std::holds_alternative<int64_t>(*alpha) && std::get<int64_t>(*alpha) != 1)
    return std::nullopt;
  const ir::Attr* a = p->find("self");
  const ir::Attr* b = p->find("other");
  if (!a || !b) return std::nullopt;
  for (int swap = 0; swap < 2; ++swap) {
    const ir::Attr& range = swap ? *b : *a;
    const ir::Attr& start = swap ? *a : *b;
    const Value* const* r = std::get_if<Value*>(&range);
    if (!r || !is_arange(*r, count)) continue;
    if (const int64_t* i = std::get_if<int64_t>(&start)) return ContiguousStart{nullptr, *i};
    if (const Value* const* s = std::get_if<Value*>(&start);
        s && numel_or_minus1(*s) == 1 && !ir::is_floating((*s)->dtype) && (*s)->dtype != ir::DType::kBool)
      return ContiguousStart{*s, 0};
  }
  return std::nullopt;
}

// DYNAMIC_UPDATE_SLICE(x, update, start) with the start on `axis` and 0 elsewhere.
void emit_block_write(LowerCtx& ctx, const Value* x, const Value* update, int axis, const ContiguousStart& start,
                      const Value* y) {
  const int rank = x->rank();
  Value* starts;
  if (!start.tensor) {
    std::vector<int32_t> s(rank, 0);
    s[axis] = static_cast<int32_t>(start.offset);
    starts = ctx.const_i32(s, {rank});
  } else {
    Value* one = ctx.cast(ctx.reshape(ctx.get(start.tensor, {}), {1}), ir::DType::kInt32);
    // Zeros around the start: PAD of the one-element start to [rank] (paddings [[axis, rank-1-axis]]).
    std::vector<int32_t> pads{axis, rank - 1 - axis};
    starts = ctx.make_temp(ir::DType::kInt32, ir::static_shape(std::vector<int64_t>{rank}));
    ctx.emit(ir::TflOp::PAD, {one, ctx.const_i32(pads, {1, 2})}, {starts});
  }
  Value* upd = ctx.cast(ctx.get(update, {}), x->dtype);
  ctx.emit(ir::TflOp::DYNAMIC_UPDATE_SLICE, {ctx.get(x, {}), upd, starts}, {ctx.make_output(y)});
}

// Checks what DYNAMIC_UPDATE_SLICE needs of a write along `axis`: static shapes, and an update with
// x's shape except for `count` rows on that axis.
bool check_block(LowerCtx& ctx, const Value* x, const Value* update, int axis) {
  if (!ir::is_fully_static(x->shape) || !ir::is_fully_static(update->shape)) {
    ctx.unsupported("a cache write with dynamic shapes is not supported yet");
    return false;
  }
  bool same = update->rank() == x->rank();
  for (int d = 0; same && d < x->rank(); ++d) same = d == axis || update->shape[d].size == x->shape[d].size;
  if (!same) {
    ctx.unsupported("the written block " + ir::shape_to_string(update->shape) + " must have the shape of the target " +
                    ir::shape_to_string(x->shape) + " except along the written dim (no broadcasting)");
    return false;
  }
  return true;
}

constexpr const char* kNotContiguous =
    "writes rows at positions that are not provably consecutive; only a block write at "
    "arange(T) + start (e.g. cache.index_copy_(dim, torch.arange(T) + input_pos[0], new)) becomes "
    "DYNAMIC_UPDATE_SLICE, a scatter to arbitrary rows is not supported";

}  // namespace

// index_put(x, [None, ..., idx], values): idx on one dim, the dims before it taken whole.
bool lower_index_put_block_write(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* values = n.get_tensor("values");
  if (n.find("accumulate") && n.get_bool("accumulate")) return false;
  const auto& indices = n.get_tensors("indices");
  int axis = -1;
  for (size_t d = 0; d < indices.size(); ++d) {
    if (!indices[d]) continue;
    if (axis >= 0) return false;
    axis = static_cast<int>(d);
  }
  if (axis < 0 || indices[axis]->rank() != 1 || !ir::is_fully_static(x->shape) || !ir::is_fully_static(values->shape) ||
      values->rank() != x->rank())
    return false;
  for (int d = 0; d < x->rank(); ++d)
    if (d != axis && values->shape[d].size != x->shape[d].size) return false;
  const std::optional<ContiguousStart> start = contiguous_start(indices[axis], values->shape[axis].size);
  if (!start) return false;
  emit_block_write(ctx, x, values, axis, *start, n.outputs.at(0));
  return true;
}

const char* const kStateWriteNotContiguous = kNotContiguous;

namespace {

void lower_index_copy(LowerCtx& ctx, const ir::Node& n) {
  const Value* x = n.get_tensor("self");
  const Value* source = n.get_tensor("source");
  int64_t dim = n.get_int("dim");
  if (dim < 0) dim += x->rank();
  if (!check_block(ctx, x, source, static_cast<int>(dim))) return;
  const std::optional<ContiguousStart> start = contiguous_start(n.get_tensor("index"), source->shape[dim].size);
  if (!start) return ctx.unsupported(kNotContiguous);
  emit_block_write(ctx, x, source, static_cast<int>(dim), *start, n.outputs.at(0));
}

}  // namespace

void register_cache_write_rules(Registry& r) {
  r.add("aten.index_copy.default", lower_index_copy, "DYNAMIC_UPDATE_SLICE (+PAD, CAST)",
        "a block of consecutive rows at arange(T) + start (KV-cache writes); no scatter");
}

}  // namespace pt2tflite::lower
