// Lowering as a whole (lower/lower.cc): how it reports, not what each rule emits (the Python
// tests check that against LiteRT).
#include <gtest/gtest.h>

#include "ir/parse.h"
#include "lower/lower.h"

namespace pt2tflite::lower {
namespace {

TEST(Lower, ARuleThatThrowsOnAPlaceholderAfterAFailureDoesNotHideTheReport) {
  // After %a fails, %s is still checked, fed the placeholder that stands for %a. The slice's
  // declared rank (1) is less than its input's (2), which the boundary refuses in a real archive;
  // here the rule's shape lookup throws std::out_of_range, and the report must still be the
  // unsupported node, not an escaped exception.
  ir::Module m = ir::parse(R"(graph main(%x: f32[4,4]) {
  %a = aten.no_such_op.default(self=%x) : f32[4,4]
  %s = aten.slice.Tensor(self=%a, dim=1, start=0, end=2, step=1) : f32[4]
  return %s
}
)");
  std::vector<Diagnostic> diags;
  EXPECT_NO_THROW(lower(m, diags));
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].op, "aten.no_such_op.default");
  EXPECT_NE(diags[0].message.find("no lowering"), std::string::npos) << diags[0].message;
}

}  // namespace
}  // namespace pt2tflite::lower
