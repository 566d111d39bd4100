#include "lower/registry.h"

#include "util/check.h"

#include "lower/rules.h"

namespace pt2tflite::lower {

Rule& Registry::add(std::string op, LowerFn fn, std::string emits, std::string notes) {
  // Two rules for one overload would leave the second silently unused (merges have done this).
  PT2_CHECK(!find(op), "two lowering rules are registered for " << op);
  rules_.push_back(Rule{std::move(op), fn, std::move(emits), std::move(notes)});
  return rules_.back();
}

const Rule* Registry::find(std::string_view op) const {
  for (const Rule& r : rules_)
    if (r.op == op) return &r;
  return nullptr;
}

const Registry& registry() {
  static const Registry* r = [] {
    auto* reg = new Registry;
    register_conv_rules(*reg);
    register_pool_rules(*reg);
    register_elementwise_rules(*reg);
    register_activation_rules(*reg);
    register_linear_rules(*reg);
    register_shape_rules(*reg);
    register_reduce_rules(*reg);
    register_norm_rules(*reg);
    register_math_rules(*reg);
    register_compare_rules(*reg);
    register_constant_rules(*reg);
    register_index_rules(*reg);
    register_resize_rules(*reg);
    register_pad_rules(*reg);
    register_scatter_rules(*reg);
    register_cache_write_rules(*reg);
    register_quantize_rules(*reg);
    register_sort_rules(*reg);
    register_rearrange_rules(*reg);
    register_sample_rules(*reg);
    return reg;
  }();
  return *r;
}

}  // namespace pt2tflite::lower
