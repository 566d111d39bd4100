#include "lower/lower.h"

#include <algorithm>
#include <unordered_set>

#include "lower/context.h"
#include "lower/plant_bug.h"
#include "lower/registry.h"
#include "util/check.h"

namespace pt2tflite::lower {

static std::unique_ptr<ir::Graph> lower_graph(const ir::Graph& src, std::vector<Diagnostic>& diags) {
  auto dst = std::make_unique<ir::Graph>();
  dst->name = src.name;
  // Nodes the reader already reported (an argument it could not represent is None in the IR):
  // their rules must not run on the placeholder.
  std::unordered_set<std::string> reported;
  for (const Diagnostic& d : diags) reported.insert(d.node);
  LowerCtx ctx(src, *dst, diags);
  const std::string planted = planted_bug_node();  // TEST ONLY, see lower/plant_bug.h
  // Model inputs keep PyTorch's layout: users feed the same arrays they feed PyTorch.
  for (const ir::Value* in : src.inputs) dst->inputs.push_back(ctx.make_output(in));
  for (const auto& n : src.nodes()) {
    ctx.node = n.get();
    const bool failing = ctx.failed() || !reported.empty();
    const Rule* rule = registry().find(n->op);
    if (reported.count(n->name)) {
      // Already in the report.
    } else if (!rule) {
      ctx.unsupported("no lowering for " + n->op + " (see docs/ops.md for the supported ops)");
    } else if (!failing) {
      rule->fn(ctx, *n);
      if (!planted.empty() && n->name == planted) plant_bug(ctx, *n);  // TEST ONLY
    } else {
      // Once a node has failed no file is written, but every later node is still checked so that
      // one report lists them all. An error in a rule fed by placeholders (an InternalError, or a
      // std:: exception such as out_of_range from sizes the placeholder cannot honour) is not the
      // user's problem to read about: the first report already stands.
      auto operands = n->operands();
      bool ready = std::all_of(operands.begin(), operands.end(),
                               [&](const ir::Value* v) { return v->is_const() || ctx.is_lowered(v); });
      try {
        if (ready) rule->fn(ctx, *n);
      } catch (const std::exception&) {}
    }
    // What a failed node would have produced becomes a placeholder, so its readers get checked.
    if (ctx.failed() || !reported.empty())
      for (const ir::Value* out : n->outputs)
        if (out && !ctx.is_lowered(out)) ctx.make_output(out);
  }
  ctx.node = nullptr;
  if (ctx.failed() || !reported.empty()) return dst;
  for (const ir::Value* out : src.outputs) dst->outputs.push_back(ctx.get(out, {}));
  dst->remove_dead();
  return dst;
}

ir::Module lower(const ir::Module& aten, std::vector<Diagnostic>& diagnostics) {
  ir::Module out;
  for (const auto& g : aten.subgraphs) out.subgraphs.push_back(lower_graph(*g, diagnostics));
  out.signatures = aten.signatures;
  return out;
}

}  // namespace pt2tflite::lower
