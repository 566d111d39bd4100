// The table of lowering rules, keyed by exact ATen overload ("aten.add.Tensor").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lower/context.h"

namespace pt2tflite::lower {

using LowerFn = void (*)(LowerCtx& ctx, const ir::Node& node);

struct Rule {
  std::string op;  // exact overload, e.g. "aten.convolution.default"
  LowerFn fn;
  std::string emits;  // TFLite op(s) it becomes, for docs/ops.md
  std::string notes;  // limits and conditions, for docs/ops.md
  // Whether pt2tflite.convert keeps the op out of torch.export's decomposition table. PyTorch's
  // default table splits some ops into many small ones (upsampling and reflect/replicate padding
  // and roll into gathers; softplus, mish, prelu and _safe_softmax into selects) that this rule
  // lowers better whole. Only a registered rule can ask for it, so an op is never kept whole
  // without a lowering.
  bool keep_whole = false;

  Rule& keep_whole_in_decomposition() {
    keep_whole = true;
    return *this;
  }
};

class Registry {
 public:
  // Rules are registered with literal keys (a grep for "aten.x.y" finds the rule); two rules for
  // one key are a startup error.
  Rule& add(std::string op, LowerFn fn, std::string emits, std::string notes = "");
  const Rule* find(std::string_view op) const;
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  std::vector<Rule> rules_;
};

// Every rule pt2tflite has, one registration function per op family (see lower/rules.h).
const Registry& registry();

}  // namespace pt2tflite::lower
