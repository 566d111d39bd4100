// The message of a ConversionError that carries many unsupported nodes stays short, whatever the
// archive names its ops and nodes; the structured diagnostics keep every node.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pt2tflite/convert.h"

namespace {

using pt2tflite::ConversionError;
using pt2tflite::Diagnostic;

Diagnostic unsupported(const std::string& op, const std::string& node) {
  return {op, node, "blocks.0.attn", "/home/user/model.py:42", "no lowering for " + op};
}

TEST(ConversionError, ManyNodesGiveACountPerOpAndTheFirstThree) {
  std::vector<Diagnostic> d;
  for (int i = 0; i < 5; ++i) d.push_back(unsupported("aten.erfinv.default", "erfinv_" + std::to_string(i)));
  for (int i = 0; i < 2; ++i) d.push_back(unsupported("aten.special_bessel_j0.default", "j0_" + std::to_string(i)));
  ConversionError e(d);
  const std::string m = e.what();
  EXPECT_NE(m.find("7 unsupported nodes (aten.erfinv.default x5, aten.special_bessel_j0.default x2)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("node 'erfinv_2'"), std::string::npos) << m;
  EXPECT_EQ(m.find("node 'erfinv_3'"), std::string::npos) << m;
  EXPECT_NE(m.find("... and 4 more"), std::string::npos) << m;
  EXPECT_EQ(e.diagnostics().size(), 7u);
}

TEST(ConversionError, HostileNamesOnEveryNodeStayUnderAThousandCharacters) {
  // 100,000 nodes, each with its own 500-character op name and long fields: the count per op
  // must not be quadratic, and the message must not grow with the names or the node count.
  std::vector<Diagnostic> d;
  for (int i = 0; i < 100000; ++i) {
    const std::string op = std::string(500, 'a' + i % 26) + std::to_string(i);
    d.push_back({op, std::string(300, 'n'), std::string(300, 'm'), std::string(300, 's'), std::string(300, 'x')});
  }
  ConversionError e(d);
  EXPECT_LE(std::string(e.what()).size(), 1000u) << e.what();
  EXPECT_EQ(e.diagnostics().size(), 100000u);
}

}  // namespace
