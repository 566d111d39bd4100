// Recursive-descent parser of the IR text form (grammar in the comments of each parse_* below).
#include "ir/parse.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>

#include "ir/constants.h"
#include "ir/text_format.h"
#include "pt2tflite/convert.h"

namespace pt2tflite::ir {
namespace {

enum class Tok { kEnd, kWord, kString, kPunct, kArrow };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // the word, the unescaped string, or the punctuation character
  int line = 1, col = 1;
  size_t offset = 0;
};

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_.#/+-", c) != nullptr; }

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token next() {
    skip_space();
    Token t;
    t.line = line_;
    t.col = col_;
    t.offset = pos_;
    if (pos_ >= text_.size()) return t;
    char c = text_[pos_];
    if (c == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '>') {
      advance(2);
      t.kind = Tok::kArrow;
      t.text = "->";
    } else if (c == '"') {
      t.kind = Tok::kString;
      advance(1);
      while (true) {
        if (pos_ >= text_.size() || text_[pos_] == '\n') fail_at(t, "unterminated string");
        char s = text_[pos_];
        advance(1);
        if (s == '"') break;
        if (s == '\\') {
          if (pos_ >= text_.size()) fail_at(t, "unterminated string");
          char e = text_[pos_];
          advance(1);
          t.text += e == 'n' ? '\n' : e;
        } else {
          t.text += s;
        }
      }
    } else if (is_word_char(c)) {
      t.kind = Tok::kWord;
      size_t start = pos_;
      while (pos_ < text_.size() && is_word_char(text_[pos_])) advance(1);
      t.text = std::string(text_.substr(start, pos_ - start));
    } else {
      t.kind = Tok::kPunct;
      t.text = std::string(1, c);
      advance(1);
    }
    return t;
  }

  // A symbolic dim is the exporter's expression text ("s0", "2*s0 + 1", "Symbol('s1', positive=True)"):
  // everything from `t` up to a ',' or ']' outside parentheses and quotes. Leaves the lexer after it.
  std::string dim_expression(const Token& t) {
    pos_ = t.offset;
    line_ = t.line;
    col_ = t.col;
    int depth = 0;
    char quote = 0;
    size_t start = pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') break;
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        if (depth == 0) break;
        --depth;
      } else if (depth == 0 && (c == ',' || c == ']')) {
        break;
      }
      advance(1);
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  [[noreturn]] static void fail_at(const Token& t, const std::string& what) {
    std::ostringstream os;
    os << "IR text line " << t.line << ":" << t.col << ": " << what;
    throw ConversionError(os.str());
  }

 private:
  void advance(size_t n) {
    for (size_t i = 0; i < n && pos_ < text_.size(); ++i, ++pos_) {
      if (text_[pos_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
    }
  }
  void skip_space() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance(1);
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {  // comment
        while (pos_ < text_.size() && text_[pos_] != '\n') advance(1);
      } else {
        break;
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
};

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::kEnd: return "end of text";
    case Tok::kString: return "string \"" + t.text + "\"";
    default: return "'" + t.text + "'";
  }
}

std::optional<DType> dtype_from_name(std::string_view s) {
  for (DType t : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64, DType::kInt8, DType::kUInt8,
                  DType::kInt16, DType::kInt32, DType::kInt64, DType::kBool, DType::kInt4})
    if (dtype_name(t) == s) return t;
  return std::nullopt;
}

template <typename T>
bool parse_number(const std::string& s, T& out) {
  const char* end = s.data() + s.size();
  auto r = std::from_chars(s.data(), end, out);
  return r.ec == std::errc() && r.ptr == end;
}

// Words that read as an integer literal (not a float).
bool is_int_word(const std::string& s) {
  int64_t x;
  return parse_number(s, x);
}

class Parser {
 public:
  explicit Parser(std::string_view text) : lex_(text) { tok_ = lex_.next(); }

  // module := graph+ signature*
  Module parse_module() {
    Module m;
    while (is_word("graph")) m.subgraphs.push_back(parse_graph());
    if (m.subgraphs.empty()) fail("expected 'graph'");
    while (is_word("signature")) m.signatures.push_back(parse_signature(m));
    if (tok_.kind != Tok::kEnd) fail("expected 'graph', 'signature' or end of text");
    return m;
  }

 private:
  // --- token helpers
  [[noreturn]] void fail(const std::string& expected) { Lexer::fail_at(tok_, expected + ", got " + describe(tok_)); }
  bool is_punct(char c) const { return tok_.kind == Tok::kPunct && tok_.text[0] == c; }
  bool is_word(std::string_view w) const { return tok_.kind == Tok::kWord && tok_.text == w; }
  Token take() {
    Token t = tok_;
    tok_ = lex_.next();
    return t;
  }
  void expect_punct(char c) {
    if (!is_punct(c)) fail(std::string("expected '") + c + "'");
    take();
  }
  void expect_word(std::string_view w) {
    if (!is_word(w)) fail("expected '" + std::string(w) + "'");
    take();
  }
  std::string word(const std::string& what) {
    if (tok_.kind != Tok::kWord) fail("expected " + what);
    return take().text;
  }
  int64_t integer(const std::string& what) {
    int64_t x;
    if (tok_.kind != Tok::kWord || !parse_number(tok_.text, x)) fail("expected " + what);
    take();
    return x;
  }
  float float32(const std::string& what) {
    float x;
    if (tok_.kind != Tok::kWord || !parse_number(tok_.text, x)) fail("expected " + what);
    take();
    return x;
  }

  // --- values
  // name after '%'
  std::string value_name() {
    expect_punct('%');
    if (tok_.kind != Tok::kWord) fail("expected a value name after '%'");
    return take().text;
  }
  Value* lookup(const Token& at, const std::string& name) {
    auto it = values_.find(name);
    if (it == values_.end()) Lexer::fail_at(at, "undefined value %" + name);
    return it->second;
  }
  // ref := '%' NAME | '_'
  Value* parse_ref() {
    if (is_word("_")) {
      take();
      return nullptr;
    }
    Token at = tok_;
    return lookup(at, value_name());
  }
  void define(const Token& at, const std::string& name, Value* v) {
    if (!values_.emplace(name, v).second) Lexer::fail_at(at, "value %" + name + " is defined twice");
    graph_->reserve_name(name);
  }

  // type := DTYPE '[' [dim (',' dim)*] ']' ['{' 'q' ':' quant '}']
  struct Type {
    DType dtype;
    Shape shape;
    std::optional<QuantParams> quant;
  };
  Type parse_type() {
    Type t;
    if (tok_.kind != Tok::kWord || !dtype_from_name(tok_.text)) fail("expected a dtype (f32, i64, ...)");
    t.dtype = *dtype_from_name(take().text);
    expect_punct('[');
    while (!is_punct(']')) {
      if (!t.shape.empty()) expect_punct(',');
      if (tok_.kind == Tok::kEnd || is_punct(',') || is_punct(']')) fail("expected a dim (a size or a symbol)");
      const Token at = tok_;
      std::string expr = lex_.dim_expression(tok_);
      while (!expr.empty() && expr.back() == ' ') expr.pop_back();
      tok_ = lex_.next();
      int64_t size;
      if (parse_number(expr, size)) {
        if (size < 0) Lexer::fail_at(at, "expected a size >= 0, got " + expr);
        t.shape.push_back(Dim{size, {}});
      } else {
        t.shape.push_back(Dim{1, expr});
      }
    }
    take();
    if (is_punct('{')) t.quant = parse_quant();
    return t;
  }
  // quant := 'q' ':' ('s' '=' F ',' 'zp' '=' I | 'axis' '=' I ',' 's' '=' '[' F,* ']' ',' 'zp' '=' '[' I,* ']')
  QuantParams parse_quant() {
    expect_punct('{');
    expect_word("q");
    expect_punct(':');
    QuantParams q;
    if (is_word("blockwise")) {
      take();
      expect_punct('=');
      auto b = std::make_shared<BlockwiseScales>();
      const int64_t block = integer("a block size");
      if (block < 1 || block > INT32_MAX) fail("expected a block size >= 1");
      b->block_size = static_cast<int32_t>(block);
      expect_punct(',');
      expect_word("scales");
      expect_punct('=');
      Token at = tok_;
      expect_punct('[');
      while (!is_punct(']')) {
        if (!b->shape.empty()) expect_punct(',');
        const int64_t d = integer("a scales dim");
        if (d < 0 || d > (int64_t{1} << 20)) fail("expected a scales dim in [0, 2^20]");
        b->shape.push_back(Dim{d, {}});
      }
      take();
      if (b->shape.size() > 2) Lexer::fail_at(at, "blockwise scales have at most 2 dims");
      // The scales are not in the text: they read back as 1.0 (float16 0x3C00).
      std::vector<uint16_t> ones(static_cast<size_t>(num_elements(b->shape)), 0x3C00);
      b->fp16_scales = ConstData::own(to_bytes(std::span<const uint16_t>(ones)));
      q.blockwise = std::move(b);
    } else if (is_word("s")) {
      take();
      expect_punct('=');
      q.scale.push_back(float32("a scale"));
      expect_punct(',');
      expect_word("zp");
      expect_punct('=');
      q.zero_point.push_back(integer("a zero point"));
    } else {
      expect_word("axis");
      expect_punct('=');
      q.axis = static_cast<int32_t>(integer("a quantized axis"));
      expect_punct(',');
      expect_word("s");
      expect_punct('=');
      expect_punct('[');
      while (!is_punct(']')) {
        if (!q.scale.empty()) expect_punct(',');
        q.scale.push_back(float32("a scale"));
      }
      take();
      expect_punct(',');
      expect_word("zp");
      expect_punct('=');
      expect_punct('[');
      while (!is_punct(']')) {
        if (!q.zero_point.empty()) expect_punct(',');
        q.zero_point.push_back(integer("a zero point"));
      }
      take();
      if (q.scale.size() != q.zero_point.size()) fail("expected as many zero points as scales");
    }
    expect_punct('}');
    return q;
  }

  // graph := 'graph' NAME '(' [input (',' input)*] ')' '{' stmt* 'return' [ref (',' ref)*] '}'
  std::unique_ptr<Graph> parse_graph() {
    expect_word("graph");
    auto g = std::make_unique<Graph>();
    graph_ = g.get();
    values_.clear();
    g->name = word("a graph name");
    expect_punct('(');
    while (!is_punct(')')) {
      if (!g->inputs.empty()) expect_punct(',');
      Token at = tok_;
      std::string name = value_name();
      expect_punct(':');
      Type t = parse_type();
      Value* v = g->add_value(name, t.dtype, t.shape);
      v->quant = t.quant;
      if (is_word("state")) {
        take();
        v->is_state = true;
      }
      define(at, name, v);
      g->inputs.push_back(v);
    }
    take();
    expect_punct('{');
    while (!is_word("return")) parse_statement();
    take();
    if (is_punct('%') || is_word("_")) {
      g->outputs.push_back(parse_ref());
      while (is_punct(',')) {
        take();
        g->outputs.push_back(parse_ref());
      }
    }
    expect_punct('}');
    return g;
  }

  // stmt := outs '=' ('const' type '=' values | OP '(' [operand (',' operand)*] ')' ':' type*)
  void parse_statement() {
    if (!is_punct('%') && !is_word("_")) fail("expected a statement ('%name = ...') or 'return'");
    std::vector<std::pair<Token, std::string>> outs;  // empty name: '_'
    while (true) {
      Token at = tok_;
      if (is_word("_")) {
        take();
        outs.emplace_back(at, "");
      } else {
        outs.emplace_back(at, value_name());
      }
      if (!is_punct(',')) break;
      take();
    }
    expect_punct('=');
    if (is_word("const")) {
      take();
      if (outs.size() != 1 || outs[0].second.empty())
        Lexer::fail_at(outs[0].first, "a constant defines one named value");
      parse_const(outs[0].first, outs[0].second);
      return;
    }
    std::string op = word("an op name or 'const'");
    expect_punct('(');
    std::vector<Value*> inputs;
    std::vector<std::pair<std::string, Attr>> args;
    while (!is_punct(')')) {
      if (!inputs.empty() || !args.empty()) expect_punct(',');
      if (is_punct('%') || is_word("_")) {
        if (!args.empty()) fail("expected 'name=value' (operands come before named arguments)");
        inputs.push_back(parse_ref());
      } else {
        std::string key = word("an operand or 'name=value'");
        expect_punct('=');
        args.emplace_back(key, parse_attr());
      }
    }
    take();
    expect_punct(':');
    std::vector<Value*> outputs;
    std::string node_name;
    for (auto& [at, name] : outs) {
      if (name.empty()) {
        outputs.push_back(nullptr);
        continue;
      }
      if (tok_.kind != Tok::kWord || !dtype_from_name(tok_.text)) fail("expected the type of output %" + name);
      Type t = parse_type();
      Value* v = graph_->add_value(name, t.dtype, t.shape);
      v->quant = t.quant;
      outputs.push_back(v);
      if (node_name.empty()) node_name = name;
    }
    if (tok_.kind == Tok::kWord && dtype_from_name(tok_.text)) fail("expected no more output types than outputs");
    // Outputs are defined after the operands are read: a node cannot read its own output.
    for (size_t i = 0; i < outs.size(); ++i)
      if (outputs[i]) define(outs[i].first, outs[i].second, outputs[i]);
    Node* n = graph_->add_node(op, node_name.empty() ? graph_->unique_name("node") : node_name, std::move(inputs),
                               std::move(outputs));
    n->args = std::move(args);
  }

  // values := '[' [scalar (',' scalar)*] ']' | '<' N 'elements' '>'
  void parse_const(const Token& at, const std::string& name) {
    Type t = parse_type();
    if (!is_fully_static(t.shape)) Lexer::fail_at(at, "constant %" + name + " has a symbolic dim");
    int64_t n = 1;
    for (const Dim& d : t.shape) {
      // Constants the parser allocates stay well below any overflow of the element count.
      if (d.size > (int64_t{1} << 28) || n * d.size > (int64_t{1} << 28))
        Lexer::fail_at(at, "constant %" + name + " is too large for IR text (over 2^28 elements)");
      n *= d.size;
    }
    expect_punct('=');
    std::vector<uint8_t> bytes;
    if (is_punct('<')) {
      take();
      Token count_at = tok_;
      if (integer("an element count") != n)
        Lexer::fail_at(count_at, "element count differs from the shape " + shape_to_string(t.shape));
      expect_word("elements");
      expect_punct('>');
      if (n <= kMaxPrintedElements) Lexer::fail_at(count_at, "a constant this small must list its values");
      bytes = fill_bytes(t.dtype, n);
    } else {
      expect_punct('[');
      std::vector<std::string> words;
      std::vector<Token> where;
      while (!is_punct(']')) {
        if (!words.empty()) expect_punct(',');
        where.push_back(tok_);
        words.push_back(word("a constant element"));
      }
      take();
      if (static_cast<int64_t>(words.size()) != n)
        Lexer::fail_at(at, "constant %" + name + " lists " + std::to_string(words.size()) + " values for shape " +
                               shape_to_string(t.shape));
      bytes = element_bytes(t.dtype, words, where);
    }
    Value* v = graph_->add_const(name, t.dtype, t.shape, ConstData::own(std::move(bytes)));
    v->quant = t.quant;
    define(at, name, v);
  }

  static std::vector<uint8_t> fill_bytes(DType dtype, int64_t n) {
    std::vector<int64_t> ints;
    std::vector<float> floats;
    for (int64_t i = 0; i < n; ++i) {
      int64_t f = fill_value(i);
      if (dtype == DType::kUInt8 || dtype == DType::kBool) f = (f % 2 + 2) % 2;
      ints.push_back(f);
      floats.push_back(static_cast<float>(f) * 0.25f);
    }
    if (is_floating(dtype)) return typed_floats(dtype, floats, {});
    if (dtype == DType::kInt4) return pack_int4(ints);
    return from_int_vector(ints, dtype);
  }

  // Two signed 4-bit values per byte, element 2i in the low nibble.
  static std::vector<uint8_t> pack_int4(const std::vector<int64_t>& ints) {
    std::vector<uint8_t> out((ints.size() + 1) / 2, 0);
    for (size_t i = 0; i < ints.size(); ++i) out[i / 2] |= static_cast<uint8_t>((ints[i] & 0xF) << (4 * (i % 2)));
    return out;
  }

  static std::vector<uint8_t> typed_floats(DType dtype, const std::vector<float>& f, const std::vector<double>& d) {
    switch (dtype) {
      case DType::kFloat64: return to_bytes(std::span<const double>(d));
      case DType::kBFloat16: {
        std::vector<uint16_t> h;
        for (float x : f) {
          uint32_t bits;
          std::memcpy(&bits, &x, 4);
          if (std::isnan(x))
            bits = (bits | 0x400000u);  // keep it a NaN after truncation
          else
            bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest even
          h.push_back(static_cast<uint16_t>(bits >> 16));
        }
        return to_bytes(std::span<const uint16_t>(h));
      }
      default: return from_float_vector(f, dtype);
    }
  }

  std::vector<uint8_t> element_bytes(DType dtype, const std::vector<std::string>& words,
                                     const std::vector<Token>& where) {
    if (is_floating(dtype)) {
      std::vector<float> f;
      std::vector<double> d;
      for (size_t i = 0; i < words.size(); ++i) {
        double x = 0;
        float y = 0;
        const bool ok = dtype == DType::kFloat64 ? parse_number(words[i], x) : parse_number(words[i], y);
        if (!ok) Lexer::fail_at(where[i], "expected a float, got '" + words[i] + "'");
        d.push_back(x);
        f.push_back(y);
      }
      if (dtype == DType::kFloat64) return to_bytes(std::span<const double>(d));
      return typed_floats(dtype, f, d);
    }
    std::vector<int64_t> ints;
    for (size_t i = 0; i < words.size(); ++i) {
      int64_t x = 0;
      if (dtype == DType::kBool && (words[i] == "true" || words[i] == "false")) {
        ints.push_back(words[i] == "true");
        continue;
      }
      if (dtype == DType::kBool || !parse_number(words[i], x))
        Lexer::fail_at(where[i], std::string("expected ") + (dtype == DType::kBool ? "true or false" : "an integer") +
                                     ", got '" + words[i] + "'");
      int64_t lo = INT64_MIN, hi = INT64_MAX;
      switch (dtype) {
        case DType::kInt8: lo = INT8_MIN, hi = INT8_MAX; break;
        case DType::kUInt8: lo = 0, hi = UINT8_MAX; break;
        case DType::kInt16: lo = INT16_MIN, hi = INT16_MAX; break;
        case DType::kInt32: lo = INT32_MIN, hi = INT32_MAX; break;
        case DType::kInt4: lo = -8, hi = 7; break;
        default: break;
      }
      if (x < lo || x > hi)
        Lexer::fail_at(where[i], "value " + words[i] + " does not fit " + std::string(dtype_name(dtype)));
      ints.push_back(x);
    }
    if (dtype == DType::kInt4) return pack_int4(ints);
    return from_int_vector(ints, dtype);
  }

  // attr := 'None' | 'true' | 'false' | INT | FLOAT | STRING | ref | '$' NAME | '[' items ']'
  Attr parse_attr() {
    if (is_punct('%') || is_word("_")) return parse_ref();
    if (is_punct('$')) {
      take();
      return SymRef{word("a symbol name after '$'")};
    }
    if (tok_.kind == Tok::kString) return take().text;
    if (is_punct('[')) return parse_list();
    if (is_word("None")) {
      take();
      return std::monostate{};
    }
    if (is_word("true") || is_word("false")) return take().text == "true";
    if (tok_.kind == Tok::kWord) {
      int64_t i;
      double d;
      if (parse_number(tok_.text, i)) {
        take();
        return i;
      }
      if (parse_number(tok_.text, d)) {
        take();
        return d;
      }
    }
    fail("expected a value (None, true, false, a number, a string, %name, $symbol or a list)");
  }

  // A list's kind comes from its items: refs, bools, ints, or floats (any item not an integer).
  // An empty list reads as an int list.
  Attr parse_list() {
    expect_punct('[');
    std::vector<Value*> refs;
    std::vector<Token> words;
    while (!is_punct(']')) {
      if (!refs.empty() || !words.empty()) expect_punct(',');
      if (is_punct('%') || is_word("_")) {
        if (!words.empty()) fail("expected a number or bool (lists hold one kind)");
        refs.push_back(parse_ref());
      } else {
        if (!refs.empty()) fail("expected %name or _ (lists hold one kind)");
        if (tok_.kind != Tok::kWord) fail("expected a list item");
        words.push_back(take());
      }
    }
    take();
    if (!refs.empty()) return refs;
    if (words.empty()) return std::vector<int64_t>{};
    bool bools = words[0].text == "true" || words[0].text == "false";
    bool ints = true;
    for (const Token& w : words) ints = ints && is_int_word(w.text);
    std::vector<bool> bs;
    std::vector<int64_t> is;
    std::vector<double> ds;
    for (const Token& w : words) {
      if (bools) {
        if (w.text != "true" && w.text != "false") Lexer::fail_at(w, "expected true or false, got '" + w.text + "'");
        bs.push_back(w.text == "true");
      } else if (ints) {
        is.push_back(0);
        parse_number(w.text, is.back());
      } else {
        double d;
        if (!parse_number(w.text, d)) Lexer::fail_at(w, "expected a number, got '" + w.text + "'");
        ds.push_back(d);
      }
    }
    if (bools) return bs;
    if (ints) return is;
    return ds;
  }

  // signature := 'signature' KEY '->' GRAPH '(' names ')' '->' '(' names ')'
  Signature parse_signature(const Module& m) {
    expect_word("signature");
    Signature s;
    s.key = word("a signature key");
    if (tok_.kind != Tok::kArrow) fail("expected '->'");
    take();
    Token at = tok_;
    std::string graph = word("a graph name");
    s.subgraph = -1;
    for (size_t i = 0; i < m.subgraphs.size(); ++i)
      if (m.subgraphs[i]->name == graph) s.subgraph = static_cast<int>(i);
    if (s.subgraph < 0) Lexer::fail_at(at, "no graph named " + graph);
    s.input_names = name_list();
    if (tok_.kind != Tok::kArrow) fail("expected '->'");
    take();
    s.output_names = name_list();
    return s;
  }
  std::vector<std::string> name_list() {
    expect_punct('(');
    std::vector<std::string> out;
    while (!is_punct(')')) {
      if (!out.empty()) expect_punct(',');
      out.push_back(word("a name"));
    }
    take();
    return out;
  }

  Lexer lex_;
  Token tok_;
  Graph* graph_ = nullptr;
  std::map<std::string, Value*> values_;
};

}  // namespace

Module parse(std::string_view text) { return Parser(text).parse_module(); }

}  // namespace pt2tflite::ir
