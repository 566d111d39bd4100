#include "filecheck.h"

#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace pt2tflite::testing {
namespace {

enum class Kind { kCheck, kNext, kSame, kNot };

struct Check {
  Kind kind;
  std::string pattern;
  int line;  // in the check text, 1-based
  std::string source;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Parses the check lines; CHECK-COUNT-n expands to n CHECKs. Returns an error message or "".
std::string parse_checks(std::string_view checks, std::vector<Check>& out) {
  int line_no = 0;
  while (!checks.empty()) {
    size_t eol = checks.find('\n');
    std::string_view line = checks.substr(0, eol);
    checks = eol == std::string_view::npos ? std::string_view{} : checks.substr(eol + 1);
    ++line_no;
    size_t at = line.find("CHECK");
    if (at == std::string_view::npos) continue;
    std::string_view rest = line.substr(at + 5);
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos) return "check line " + std::to_string(line_no) + ": no ':'";
    std::string_view kind = rest.substr(0, colon);
    std::string pattern(trim(rest.substr(colon + 1)));
    if (pattern.empty()) return "check line " + std::to_string(line_no) + ": empty pattern";
    Check c{Kind::kCheck, pattern, line_no, std::string(trim(line))};
    if (kind.empty()) {
      out.push_back(c);
    } else if (kind == "-NEXT") {
      c.kind = Kind::kNext;
      out.push_back(c);
    } else if (kind == "-SAME") {
      c.kind = Kind::kSame;
      out.push_back(c);
    } else if (kind == "-NOT") {
      c.kind = Kind::kNot;
      out.push_back(c);
    } else if (kind.substr(0, 7) == "-COUNT-") {
      int n = 0;
      try {
        n = std::stoi(std::string(kind.substr(7)));
      } catch (...) {
        n = 0;
      }
      if (n <= 0) return "check line " + std::to_string(line_no) + ": bad count";
      for (int i = 0; i < n; ++i) out.push_back(c);
    } else {
      return "check line " + std::to_string(line_no) + ": unknown directive CHECK" + std::string(kind);
    }
  }
  if (out.empty()) return "no CHECK lines";
  return "";
}

size_t line_start(std::string_view text, size_t pos) {
  size_t nl = pos == 0 ? std::string_view::npos : text.rfind('\n', pos - 1);
  return nl == std::string_view::npos ? 0 : nl + 1;
}

// The text from the start of pos's line, a few lines of it, for a failure message.
std::string context(std::string_view text, size_t pos) {
  size_t start = line_start(text, std::min(pos, text.size()));
  std::string_view rest = text.substr(start);
  size_t end = 0;
  for (int i = 0; i < 6 && end != std::string_view::npos; ++i) end = rest.find('\n', end ? end + 1 : 0);
  std::ostringstream os;
  os << "  scanning from here:\n>>>\n" << rest.substr(0, end) << "\n<<<\nfull text:\n" << text;
  return os.str();
}

}  // namespace

::testing::AssertionResult FileCheck(std::string_view text, std::string_view checks) {
  std::vector<Check> cs;
  if (std::string err = parse_checks(checks, cs); !err.empty()) return ::testing::AssertionFailure() << err;
  size_t pos = 0;                         // where the next positive check starts looking
  std::optional<size_t> last_match;       // start of the previous positive match
  std::vector<const Check*> pending_not;  // CHECK-NOTs waiting for the next positive match
  auto fail_not = [&](const Check& c, size_t at) {
    return ::testing::AssertionFailure() << "check line " << c.line << " failed: " << c.source
                                         << "\n  the pattern occurs:\n"
                                         << context(text, at);
  };
  auto check_nots = [&](size_t from, size_t to) -> std::optional<::testing::AssertionResult> {
    for (const Check* n : pending_not) {
      size_t at = text.substr(from, to - from).find(n->pattern);
      if (at != std::string_view::npos) return fail_not(*n, from + at);
    }
    pending_not.clear();
    return std::nullopt;
  };
  for (const Check& c : cs) {
    if (c.kind == Kind::kNot) {
      pending_not.push_back(&c);
      continue;
    }
    size_t at = text.find(c.pattern, pos);
    if (at == std::string_view::npos)
      return ::testing::AssertionFailure()
             << "check line " << c.line << " failed: " << c.source << "\n  pattern not found;" << context(text, pos);
    if (c.kind == Kind::kNext) {
      // The match must lie on the line after the previous match's line.
      size_t prev_eol = last_match ? text.find('\n', *last_match) : std::string_view::npos;
      size_t next_line = prev_eol == std::string_view::npos ? text.size() : prev_eol + 1;
      size_t next_eol = text.find('\n', next_line);
      if (!last_match || at < next_line || (next_eol != std::string_view::npos && at > next_eol))
        return ::testing::AssertionFailure() << "check line " << c.line << " failed: " << c.source
                                             << "\n  not on the next line;" << context(text, next_line);
    }
    if (c.kind == Kind::kSame) {
      size_t eol = text.find('\n', pos);
      if (!last_match || (eol != std::string_view::npos && at > eol))
        return ::testing::AssertionFailure()
               << "check line " << c.line << " failed: " << c.source
               << "\n  not on the same line after the previous match;" << context(text, pos);
    }
    if (auto f = check_nots(pos, at)) return *f;
    last_match = at;
    pos = at + c.pattern.size();
  }
  if (auto f = check_nots(pos, text.size())) return *f;
  return ::testing::AssertionSuccess();
}

}  // namespace pt2tflite::testing
