#include "lower/plant_bug.h"

#include <cstdlib>
#include <utility>

#include "lower/elementwise.h"

namespace pt2tflite::lower {

std::string planted_bug_node() {
  const char* name = std::getenv("PT2TFLITE_TEST_PLANT_BUG");
  return name ? name : "";
}

void plant_bug(LowerCtx& ctx, const ir::Node& n) {
  if (n.outputs.size() != 1 || !n.outputs[0] || !ctx.is_lowered(n.outputs[0])) return;
  const ir::Value* aten = n.outputs[0];
  ir::Value* held = ctx.get_any(aten);
  if (!ir::is_floating(held->dtype) || held->quant || held->is_const()) return;
  ir::Value* wrong = ctx.make_temp(held->dtype, held->shape);
  // The FX name belongs to the wrong value; a view's input (another node's name) keeps its own.
  if (held->name == aten->name) std::swap(wrong->name, held->name);
  emit_elementwise(ctx, ir::TflOp::ADD, {held, ctx.scalar(held->dtype, kPlantedBugOffset)}, wrong);
  ctx.bind(aten, wrong, ctx.layout_of(aten));
}

}  // namespace pt2tflite::lower
