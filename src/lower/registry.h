// The table of lowering rules, keyed by exact ATen overload ("aten.add.Tensor").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lower/context.h"

namespace pt2tflite::lower {

using LowerFn = void (*)(LowerCtx& ctx, const ir::Node& node);

struct Rule {
  std::string op;         // exact overload, e.g. "aten.convolution.default"
  LowerFn fn;
  std::string emits;      // TFLite op(s) it becomes, for docs/ops.md
  std::string notes;      // limits and conditions, for docs/ops.md
};

class Registry {
 public:
  void add(std::string op, LowerFn fn, std::string emits, std::string notes = "");
  const Rule* find(std::string_view op) const;
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  std::vector<Rule> rules_;
};

// Every rule pt2tflite has, one registration function per op family (see lower/rules.h).
const Registry& registry();

}  // namespace pt2tflite::lower
