#include "mysql/ddl_parser.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "common/error.h"
#include "mysql/column_type.h"

namespace sluice::mysql {
namespace {

// ---------------------------------------------------------------------------------------------
// Tokenizer. https://dev.mysql.com/doc/refman/8.0/en/lexical-structure.html
// ---------------------------------------------------------------------------------------------

enum class Tok : uint8_t {
  kWord,         ///< unquoted identifier or keyword, as written
  kQuotedIdent,  ///< `ident`, unescaped
  kDquoted,      ///< "text": a string, or an identifier under ANSI_QUOTES (context decides)
  kString,       ///< 'text', N'text', _charset'text', unescaped
  kNumber,       ///< 12, 1.5, .5, 1e3
  kHex,          ///< X'0A' or 0x0A (text = as written)
  kBits,         ///< B'01' or 0b01 (text = as written)
  kPunct,        ///< one character: ( ) , . ; = + - * / ...
  kEnd,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  size_t begin = 0;  ///< byte offsets in the statement
  size_t end = 0;
};

class ParseError : public std::runtime_error {
 public:
  ParseError(const std::string& what, size_t offset) : std::runtime_error(what), offset_(offset) {}
  size_t offset() const { return offset_; }

 private:
  size_t offset_;
};

bool IsWordByte(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

/// Reads a quoted literal starting at sql[i] (the quote). Doubled quotes and, unless `raw`,
/// backslash escapes are resolved. Returns the offset after the closing quote.
size_t ReadQuoted(std::string_view sql, size_t i, bool backslash, std::string& out) {
  char q = sql[i++];
  while (i < sql.size()) {
    char c = sql[i++];
    if (c == q) {
      if (i < sql.size() && sql[i] == q) {
        out.push_back(q);
        ++i;
        continue;
      }
      return i;
    }
    if (backslash && c == '\\' && i < sql.size()) {
      char e = sql[i++];
      switch (e) {
        case '0': out.push_back('\0'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'b': out.push_back('\b'); break;
        case 'Z': out.push_back('\x1a'); break;
        case '%': out += "\\%"; break;  // kept as written, as MySQL does (for LIKE)
        case '_': out += "\\_"; break;
        default: out.push_back(e); break;
      }
      continue;
    }
    out.push_back(c);
  }
  throw ParseError(fmt::format("unterminated {} literal", q == '`' ? "identifier" : "string"), i);
}

bool AllOf(std::string_view s, size_t from, const char* set) {
  if (from >= s.size()) return false;
  for (size_t k = from; k < s.size(); ++k) {
    if (!std::strchr(set, std::tolower(static_cast<unsigned char>(s[k])))) return false;
  }
  return true;
}

std::vector<Token> Tokenize(std::string_view sql) {
  std::vector<Token> out;
  size_t i = 0;
  const size_t n = sql.size();
  int versioned = 0;  // depth of /*! ... */ comments whose content counts
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(sql[i]);
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    if (c == '#' ||
        (c == '-' && i + 1 < n && sql[i + 1] == '-' &&
         (i + 2 >= n || std::isspace(static_cast<unsigned char>(sql[i + 2])) ||
          std::iscntrl(static_cast<unsigned char>(sql[i + 2]))))) {
      while (i < n && sql[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      size_t body = i + 2;
      bool counts = false;
      if (body < n && sql[body] == '!') {
        counts = true;
        body += 1;
      } else if (body + 1 < n && sql[body] == 'M' && sql[body + 1] == '!') {
        counts = true;
        body += 2;
      }
      if (counts) {
        // /*!50100 ... */ (MySQL) and /*M!100100 ... */ (MariaDB): the server that wrote the
        // binlog ran the content, so it is part of the statement. Skip the version number.
        size_t d = body;
        while (d < n && d - body < 6 && std::isdigit(static_cast<unsigned char>(sql[d]))) ++d;
        i = d;
        ++versioned;
        continue;
      }
      size_t end = sql.find("*/", body);
      if (end == std::string_view::npos) throw ParseError("unterminated comment", i);
      i = end + 2;
      continue;
    }
    if (c == '*' && versioned > 0 && i + 1 < n && sql[i + 1] == '/') {
      --versioned;
      i += 2;
      continue;
    }
    Token t;
    t.begin = i;
    if (c == '`') {
      t.kind = Tok::kQuotedIdent;
      i = ReadQuoted(sql, i, false, t.text);
    } else if (c == '"') {
      t.kind = Tok::kDquoted;
      i = ReadQuoted(sql, i, true, t.text);
    } else if (c == '\'') {
      t.kind = Tok::kString;
      i = ReadQuoted(sql, i, true, t.text);
    } else if (IsWordByte(c)) {
      size_t start = i;
      while (i < n && IsWordByte(static_cast<unsigned char>(sql[i]))) ++i;
      std::string_view w = sql.substr(start, i - start);
      bool quote_next = i < n && sql[i] == '\'';
      if (quote_next && (w == "x" || w == "X")) {
        t.kind = Tok::kHex;
        std::string ignored;
        i = ReadQuoted(sql, i, false, ignored);
        t.text = std::string(sql.substr(start, i - start));
      } else if (quote_next && (w == "b" || w == "B")) {
        t.kind = Tok::kBits;
        std::string ignored;
        i = ReadQuoted(sql, i, false, ignored);
        t.text = std::string(sql.substr(start, i - start));
      } else if (quote_next && (w == "n" || w == "N")) {
        t.kind = Tok::kString;
        i = ReadQuoted(sql, i, true, t.text);
      } else if (w.size() > 1 && w[0] == '_' && [&] {
                   size_t k = i;
                   while (k < n && std::isspace(static_cast<unsigned char>(sql[k]))) ++k;
                   return k < n && (sql[k] == '\'' || sql[k] == '"');
                 }()) {
        // Charset introducer: _utf8mb4'text', _binary 'text'.
        while (std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
        t.kind = Tok::kString;
        i = ReadQuoted(sql, i, true, t.text);
      } else if (std::isdigit(static_cast<unsigned char>(w[0]))) {
        if (w.size() > 2 && w[0] == '0' && (w[1] == 'x') && AllOf(w, 2, "0123456789abcdef")) {
          t.kind = Tok::kHex;
        } else if (w.size() > 2 && w[0] == '0' && w[1] == 'b' && AllOf(w, 2, "01")) {
          t.kind = Tok::kBits;
        } else if (AllOf(w, 0, "0123456789")) {
          t.kind = Tok::kNumber;
          if (i + 1 < n && sql[i] == '.' && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
            ++i;
            while (i < n && IsWordByte(static_cast<unsigned char>(sql[i]))) ++i;
            // 1.5e-3: the exponent sign stopped the scan.
            if ((sql[i - 1] == 'e' || sql[i - 1] == 'E') && i + 1 < n && (sql[i] == '-' || sql[i] == '+') &&
                std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
              i += 1;
              while (i < n && std::isdigit(static_cast<unsigned char>(sql[i]))) ++i;
            }
          } else if (i < n && sql[i] == '.' && (i + 1 >= n || !IsWordByte(static_cast<unsigned char>(sql[i + 1])))) {
            ++i;  // "1." is a number
          }
        } else if (w.find_first_not_of("0123456789") != std::string_view::npos &&
                   (w.back() == 'e' || w.back() == 'E') && i + 1 < n && (sql[i] == '-' || sql[i] == '+') &&
                   w.find_first_not_of("0123456789eE") == std::string_view::npos) {
          t.kind = Tok::kNumber;  // 1e-5
          i += 1;
          while (i < n && std::isdigit(static_cast<unsigned char>(sql[i]))) ++i;
        } else {
          // 1e5 is a number; 1abc is an identifier.
          size_t e = w.find_first_of("eE");
          bool num = e != std::string_view::npos && e > 0 && AllOf(w.substr(0, e), 0, "0123456789") &&
                     AllOf(w, e + 1, "0123456789");
          t.kind = num ? Tok::kNumber : Tok::kWord;
        }
        t.text = std::string(sql.substr(start, i - start));
      } else {
        t.kind = Tok::kWord;
        t.text = std::string(w);
      }
    } else if (c == '.' && i + 1 < n && std::isdigit(static_cast<unsigned char>(sql[i + 1])) &&
               (out.empty() || (out.back().kind != Tok::kWord && out.back().kind != Tok::kQuotedIdent &&
                                out.back().kind != Tok::kDquoted) ||
                out.back().end != i)) {
      size_t start = i++;
      while (i < n && IsWordByte(static_cast<unsigned char>(sql[i]))) ++i;
      t.kind = Tok::kNumber;
      t.text = std::string(sql.substr(start, i - start));
    } else {
      t.kind = Tok::kPunct;
      t.text = std::string(1, static_cast<char>(c));
      ++i;
    }
    t.end = i;
    out.push_back(std::move(t));
  }
  Token end;
  end.kind = Tok::kEnd;
  end.begin = end.end = n;
  out.push_back(end);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

/// Result of one CREATE TABLE element or ALTER TABLE ADD element.
struct Element {
  enum class Kind { kColumn, kPrimaryKey, kOther } kind = Kind::kOther;
  ColumnDefinition column;
  std::vector<std::string> key_columns;
  std::string json_valid_column;  ///< CHECK (json_valid(`col`)): MariaDB's JSON marker
};

/// Returns `col` when `expr` is exactly json_valid(`col`), else "".
std::string JsonValidColumn(std::string_view expr) {
  std::vector<Token> t;
  try {
    t = Tokenize(expr);
  } catch (const ParseError&) {
    return "";
  }
  if (t.size() == 5 && t[0].kind == Tok::kWord && EqualsNoCase(t[0].text, "json_valid") &&
      t[1].kind == Tok::kPunct && t[1].text == "(" &&
      (t[2].kind == Tok::kWord || t[2].kind == Tok::kQuotedIdent || t[2].kind == Tok::kDquoted) &&
      t[3].kind == Tok::kPunct && t[3].text == ")") {
    return t[2].text;
  }
  return "";
}

std::string RTrimSpaces(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

class Parser {
 public:
  Parser(std::string_view sql, std::vector<Token> tokens, std::string_view db, const DdlParseOptions& options)
      : sql_(sql), toks_(std::move(tokens)), db_(db), options_(options) {}

  std::vector<DdlChange> Parse() {
    try {
      return Statement();
    } catch (const ParseError& e) {
      return {Unparsed(e.what(), e.offset())};
    }
  }

  DdlChange Unparsed(const std::string& why, size_t offset) const {
    DdlChange c;
    c.kind = DdlKind::kUnparsed;
    c.table = table_;
    std::string near(sql_.substr(std::min(offset, sql_.size()), 40));
    c.reason = near.empty() ? fmt::format("{} at end of statement", why)
                            : fmt::format("{} at offset {} near \"{}\"", why, offset, near);
    return c;
  }

 private:
  // --- token helpers -------------------------------------------------------------------------
  const Token& Peek(size_t k = 0) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  const Token& Next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool AtEnd() const {
    const Token& t = Peek();
    return t.kind == Tok::kEnd || (t.kind == Tok::kPunct && t.text == ";" && Peek(1).kind == Tok::kEnd);
  }
  static bool IsKw(const Token& t, std::string_view kw) { return t.kind == Tok::kWord && EqualsNoCase(t.text, kw); }
  bool PeekKw(std::string_view kw, size_t k = 0) const { return IsKw(Peek(k), kw); }
  bool PeekAnyKw(std::initializer_list<std::string_view> kws, size_t k = 0) const {
    for (auto kw : kws) {
      if (PeekKw(kw, k)) return true;
    }
    return false;
  }
  bool AcceptKw(std::string_view kw) {
    if (!PeekKw(kw)) return false;
    Next();
    return true;
  }
  void ExpectKw(std::string_view kw) {
    if (!AcceptKw(kw)) Fail(fmt::format("expected {}", kw));
  }
  bool PeekPunct(char p, size_t k = 0) const {
    const Token& t = Peek(k);
    return t.kind == Tok::kPunct && t.text[0] == p;
  }
  bool AcceptPunct(char p) {
    if (!PeekPunct(p)) return false;
    Next();
    return true;
  }
  void ExpectPunct(char p) {
    if (!AcceptPunct(p)) Fail(fmt::format("expected '{}'", p));
  }
  [[noreturn]] void Fail(const std::string& what) const { throw ParseError(what, Peek().begin); }

  /// An identifier: unquoted word, `backquoted`, or "double-quoted" (ANSI_QUOTES).
  std::string Identifier(const char* what = "identifier") {
    const Token& t = Peek();
    if (t.kind == Tok::kWord || t.kind == Tok::kQuotedIdent || t.kind == Tok::kDquoted) return Next().text;
    Fail(fmt::format("expected {}", what));
  }
  /// A name that may also be written as a string: charset, collation, engine.
  std::string NameOrString(const char* what) {
    const Token& t = Peek();
    if (t.kind == Tok::kWord || t.kind == Tok::kQuotedIdent || t.kind == Tok::kDquoted || t.kind == Tok::kString) {
      return Next().text;
    }
    Fail(fmt::format("expected {}", what));
  }
  QualifiedName TableRef() {
    std::string a = Identifier("table name");
    if (PeekPunct('.') && Peek(1).kind != Tok::kEnd) {
      Next();
      return QualifiedName{std::move(a), Identifier("table name")};
    }
    if (db_.empty()) Fail(fmt::format("table `{}` is not qualified and the event has no current database", a));
    return QualifiedName{std::string(db_), std::move(a)};
  }
  bool AcceptIfExists() {
    if (PeekKw("IF") && PeekKw("EXISTS", 1)) {
      pos_ += 2;
      return true;
    }
    return false;
  }
  bool AcceptIfNotExists() {
    if (PeekKw("IF") && PeekKw("NOT", 1) && PeekKw("EXISTS", 2)) {
      pos_ += 3;
      return true;
    }
    return false;
  }
  void AcceptWait() {
    if (AcceptKw("WAIT")) {
      if (Peek().kind != Tok::kNumber) Fail("expected a number after WAIT");
      Next();
    } else {
      AcceptKw("NOWAIT");
    }
  }
  /// Skips a parenthesised group starting at '('; returns the source text inside it.
  std::string SkipParens() {
    if (!PeekPunct('(')) Fail("expected '('");
    size_t open_end = Peek().end;
    int depth = 0;
    for (;;) {
      const Token& t = Next();
      if (t.kind == Tok::kEnd) throw ParseError("unbalanced parentheses", t.begin);
      if (t.kind == Tok::kPunct && t.text == "(") ++depth;
      if (t.kind == Tok::kPunct && t.text == ")" && --depth == 0) {
        return std::string(sql_.substr(open_end, t.begin - open_end));
      }
    }
  }
  /// Skips to the next ',' or ')' at depth 0 (not consumed) or the end.
  void SkipElement() {
    for (;;) {
      if (AtEnd() || PeekPunct(',') || PeekPunct(')')) return;
      if (PeekPunct('(')) {
        SkipParens();
      } else {
        Next();
      }
    }
  }
  void SkipRest() {
    while (!AtEnd()) Next();
  }
  void ExpectEnd() {
    if (!AtEnd()) Fail("unexpected text");
  }
  std::string Source(size_t begin, size_t end) const { return std::string(sql_.substr(begin, end - begin)); }

  DdlChange Ignored(std::string why) const {
    DdlChange c;
    c.kind = DdlKind::kIgnored;
    c.reason = std::move(why);
    return c;
  }
  std::string WordsFrom(size_t tok_begin) const {
    std::string s;
    for (size_t k = tok_begin; k < pos_ + 1 && k < toks_.size() && toks_[k].kind == Tok::kWord; ++k) {
      if (!s.empty()) s += " ";
      s += toks_[k].text;
      if (s.size() > 40) break;
    }
    return s;
  }

  // --- statements ------------------------------------------------------------------------------
  std::vector<DdlChange> Statement() {
    if (AtEnd()) return {Ignored("empty statement")};
    if (Peek().kind != Tok::kWord) return {Ignored("not a DDL statement")};
    size_t first = pos_;
    if (AcceptKw("CREATE")) {
      bool or_replace = false;
      if (AcceptKw("OR")) {
        ExpectKw("REPLACE");
        or_replace = true;
      }
      bool temporary = AcceptKw("TEMPORARY");
      if (AcceptKw("TABLE")) {
        if (temporary) return {Ignored("CREATE TEMPORARY TABLE: temporary tables are not captured")};
        return {CreateTable(or_replace)};
      }
      if (!temporary && (AcceptKw("DATABASE") || AcceptKw("SCHEMA"))) return {CreateDatabase(or_replace)};
      return {Ignored(fmt::format("{}: not a table change", WordsFrom(first)))};
    }
    if (AcceptKw("ALTER")) {
      while (AcceptKw("ONLINE") || AcceptKw("OFFLINE") || AcceptKw("IGNORE")) {
      }
      if (AcceptKw("TABLE")) return {AlterTable()};
      if (AcceptKw("DATABASE") || AcceptKw("SCHEMA")) return {AlterDatabase()};
      return {Ignored(fmt::format("{}: not a table change", WordsFrom(first)))};
    }
    if (AcceptKw("DROP")) {
      bool temporary = AcceptKw("TEMPORARY");
      if (AcceptKw("TABLE") || AcceptKw("TABLES")) {
        if (temporary) return {Ignored("DROP TEMPORARY TABLE: temporary tables are not captured")};
        return DropTable();
      }
      if (!temporary && (AcceptKw("DATABASE") || AcceptKw("SCHEMA"))) return {DropDatabase()};
      return {Ignored(fmt::format("{}: not a table change", WordsFrom(first)))};
    }
    if (AcceptKw("RENAME")) {
      if (AcceptKw("TABLE") || AcceptKw("TABLES")) return RenameTables();
      return {Ignored(fmt::format("{}: not a table change", WordsFrom(first)))};
    }
    if (AcceptKw("TRUNCATE")) {
      AcceptKw("TABLE");
      DdlChange c;
      c.kind = DdlKind::kTruncateTable;
      c.table = table_ = TableRef();
      AcceptWait();
      ExpectEnd();
      return {c};
    }
    return {Ignored(fmt::format("{}: not a table DDL", Peek().text))};
  }

  DdlChange CreateTable(bool or_replace) {
    DdlChange c;
    c.kind = DdlKind::kCreateTable;
    c.or_replace = or_replace;
    c.if_not_exists = AcceptIfNotExists();
    c.table = table_ = TableRef();
    c.schema.database = c.table.database;
    c.schema.table = c.table.table;
    bool parens_like = PeekPunct('(') && PeekKw("LIKE", 1);
    if (parens_like) Next();
    if (AcceptKw("LIKE")) {
      c.kind = DdlKind::kCreateTableLike;
      c.source = TableRef();
      if (parens_like) ExpectPunct(')');
      ExpectEnd();
      return c;
    }
    bool has_columns = false;
    std::vector<std::string> pk;
    std::vector<std::string> json_valid_columns;
    if (PeekPunct('(') && !PeekAnyKw({"SELECT", "WITH", "VALUES", "TABLE"}, 1) && !PeekPunct('(', 1)) {
      Next();
      has_columns = true;
      for (;;) {
        Element e = TableElement();
        if (e.kind == Element::Kind::kColumn) {
          if (c.schema.FindColumn(e.column.column.name) >= 0) {
            Fail(fmt::format("duplicate column `{}`", e.column.column.name));
          }
          if (e.column.primary_key) pk.push_back(e.column.column.name);
          c.schema.columns.push_back(std::move(e.column.column));
        } else if (e.kind == Element::Kind::kPrimaryKey) {
          if (!pk.empty()) Fail("multiple primary keys");
          pk = std::move(e.key_columns);
        } else if (!e.json_valid_column.empty()) {
          json_valid_columns.push_back(std::move(e.json_valid_column));
        }
        if (AcceptPunct(',')) continue;
        ExpectPunct(')');
        break;
      }
    }
    TableOptions(&c.table_charset, nullptr);
    if (has_columns && PeekKw("START") && PeekKw("TRANSACTION", 1)) {
      // MySQL 8.0.21+ logs an atomic CREATE TABLE ... SELECT as the server-generated CREATE TABLE
      // (every column) followed by START TRANSACTION; the rows come as row events.
      pos_ += 2;
    }
    if (!AtEnd()) {
      if (PeekAnyKw({"SELECT", "AS", "IGNORE", "REPLACE", "WITH", "VALUES", "TABLE", "START"}) || PeekPunct('(')) {
        throw ParseError("CREATE TABLE ... SELECT: the columns come from the query; re-read the schema",
                         Peek().begin);
      }
      Fail("unexpected text after CREATE TABLE");
    }
    if (!has_columns) Fail("CREATE TABLE without columns");
    for (const auto& name : pk) {
      int idx = c.schema.FindColumn(name);
      if (idx < 0) Fail(fmt::format("primary key column `{}` is not a column of the table", name));
      c.schema.primary_key.push_back(idx);
      c.schema.columns[static_cast<size_t>(idx)].nullable = false;
    }
    if (options_.mariadb) {
      // MariaDB's JSON is LONGTEXT with CHECK (json_valid(col)); SHOW CREATE TABLE writes it so.
      for (const auto& name : json_valid_columns) {
        int idx = c.schema.FindColumn(name);
        if (idx >= 0 && c.schema.columns[static_cast<size_t>(idx)].kind == ValueKind::kString) {
          MarkMariaDbJson(c.schema.columns[static_cast<size_t>(idx)]);
        }
      }
    }
    return c;
  }

  /// Parses table options up to the end, a partition clause or a CTAS query. `charset` receives
  /// [DEFAULT] CHARSET (or the charset of COLLATE when no CHARSET is given).
  void TableOptions(std::string* charset, bool* saw_charset) {
    std::string collate_charset;
    bool explicit_charset = false;
    for (;;) {
      if (AtEnd()) break;
      if (AcceptPunct(',')) continue;
      if (PeekKw("PARTITION")) {
        // PARTITION BY ...: does not change columns. A CTAS query may follow it.
        while (!AtEnd() && !PeekAnyKw({"SELECT", "AS", "IGNORE", "REPLACE"})) {
          if (PeekPunct('(')) {
            SkipParens();
          } else {
            Next();
          }
        }
        break;
      }
      if (PeekAnyKw({"SELECT", "AS", "IGNORE", "REPLACE", "VALUES", "TABLE", "START"}) || PeekPunct('(')) break;
      if (PeekKw("WITH") && !PeekKw("SYSTEM", 1)) break;
      if (!TableOption(charset, &collate_charset, &explicit_charset)) break;
    }
    if (!explicit_charset && !collate_charset.empty() && charset) *charset = collate_charset;
    if (saw_charset) *saw_charset = explicit_charset || !collate_charset.empty();
  }

  /// Parses one table option; returns false (consuming nothing) when the next tokens are not one.
  bool TableOption(std::string* charset, std::string* collate_charset, bool* explicit_charset) {
    size_t save = pos_;
    AcceptKw("DEFAULT");
    if (AcceptKw("CHARACTER") || PeekKw("CHARSET") || (PeekKw("CHAR") && PeekKw("SET", 1))) {
      if (PeekKw("CHARSET")) {
        Next();
      } else {
        AcceptKw("CHAR");
        ExpectKw("SET");
      }
      AcceptPunct('=');
      std::string cs = NameOrString("charset name");
      if (charset) *charset = EqualsNoCase(cs, "default") ? "default" : NormalizeCharset(cs);
      *explicit_charset = true;
      return true;
    }
    if (AcceptKw("COLLATE")) {
      AcceptPunct('=');
      std::string coll = NameOrString("collation name");
      *collate_charset = CharsetOfCollation(coll);
      return true;
    }
    if (pos_ != save) {
      // DEFAULT followed by something other than CHARSET/COLLATE (e.g. DEFAULT ENCRYPTION).
      if (!PeekKw("ENCRYPTION")) {
        pos_ = save;
        return false;
      }
    }
    if (PeekKw("WITH") && PeekKw("SYSTEM", 1)) {
      Fail("system-versioned table (WITH SYSTEM VERSIONING) adds hidden columns; re-read the schema");
    }
    if (Peek().kind != Tok::kWord) {
      pos_ = save;
      return false;
    }
    static const std::string_view kKnown[] = {
        "ENGINE", "TYPE", "AUTO_INCREMENT", "AVG_ROW_LENGTH", "CHECKSUM", "TABLE_CHECKSUM", "COMMENT",
        "COMPRESSION", "CONNECTION", "DELAY_KEY_WRITE", "ENCRYPTION", "ENGINE_ATTRIBUTE",
        "SECONDARY_ENGINE_ATTRIBUTE", "SECONDARY_ENGINE", "INSERT_METHOD", "KEY_BLOCK_SIZE", "MAX_ROWS",
        "MIN_ROWS", "PACK_KEYS", "PASSWORD", "ROW_FORMAT", "STATS_AUTO_RECALC", "STATS_PERSISTENT",
        "STATS_SAMPLE_PAGES", "AUTOEXTEND_SIZE", "ENCRYPTED", "ENCRYPTION_KEY_ID", "IETF_QUOTES",
        "PAGE_CHECKSUM", "PAGE_COMPRESSED", "PAGE_COMPRESSION_LEVEL", "TRANSACTIONAL", "SEQUENCE",
        "START"};
    const Token& name = Peek();
    bool known = false;
    for (auto k : kKnown) known = known || IsKw(name, k);
    if ((IsKw(name, "DATA") || IsKw(name, "INDEX")) && PeekKw("DIRECTORY", 1)) {
      pos_ += 2;
      AcceptPunct('=');
      NameOrString("directory");
      return true;
    }
    if (IsKw(name, "TABLESPACE")) {
      Next();
      AcceptPunct('=');
      NameOrString("tablespace");
      if (AcceptKw("STORAGE")) Next();
      return true;
    }
    if (IsKw(name, "UNION")) {
      Next();
      AcceptPunct('=');
      SkipParens();
      return true;
    }
    if (IsKw(name, "START")) return false;  // START TRANSACTION (atomic CTAS)
    // MariaDB engine-defined options: any `name = value`.
    if (!known && !PeekPunct('=', 1)) {
      pos_ = save;
      return false;
    }
    Next();
    AcceptPunct('=');
    const Token& v = Peek();
    if (v.kind == Tok::kEnd || (v.kind == Tok::kPunct && v.text != "-")) Fail("expected a table option value");
    if (v.kind == Tok::kPunct) Next();  // negative number
    Next();
    return true;
  }

  /// One element of a CREATE TABLE column list (or of ALTER TABLE ADD).
  Element TableElement() {
    Element e;
    const Token& t = Peek();
    if (t.kind == Tok::kWord) {
      if (IsKw(t, "CONSTRAINT")) {
        Next();
        AcceptIfNotExists();
        if (!PeekAnyKw({"PRIMARY", "UNIQUE", "FOREIGN", "CHECK"})) Identifier("constraint name");
        if (!PeekKw("PRIMARY")) {
          if (!PeekAnyKw({"UNIQUE", "FOREIGN", "CHECK"})) Fail("expected PRIMARY KEY, UNIQUE, FOREIGN KEY or CHECK");
          if (AcceptKw("CHECK")) e.json_valid_column = JsonValidColumn(SkipParens());
          SkipElement();
          return e;
        }
      }
      if (AcceptKw("PRIMARY")) {
        ExpectKw("KEY");
        e.kind = Element::Kind::kPrimaryKey;
        e.key_columns = KeyParts();
        SkipElement();  // index options
        return e;
      }
      if (AcceptKw("CHECK")) {
        e.json_valid_column = JsonValidColumn(SkipParens());
        SkipElement();
        return e;
      }
      if (PeekAnyKw({"KEY", "INDEX", "UNIQUE", "FULLTEXT", "SPATIAL", "FOREIGN"}) ||
          (PeekKw("PERIOD") && PeekKw("FOR", 1))) {
        SkipElement();
        return e;
      }
    }
    e.kind = Element::Kind::kColumn;
    std::string name = Identifier("column name");
    e.column = ColumnDef(std::move(name));
    return e;
  }

  /// ( col [(len)] [ASC|DESC], ... ) after PRIMARY KEY [name] [USING type].
  std::vector<std::string> KeyParts() {
    while (!PeekPunct('(')) {
      if (AcceptKw("USING")) {
        Identifier("index type");
      } else if (AtEnd()) {
        Fail("expected '('");
      } else {
        Identifier("index name");
      }
    }
    ExpectPunct('(');
    std::vector<std::string> cols;
    for (;;) {
      if (PeekPunct('(')) Fail("functional key part in a primary key");
      cols.push_back(Identifier("key column"));
      if (PeekPunct('(')) SkipParens();  // prefix length
      if (!AcceptKw("ASC")) AcceptKw("DESC");
      if (AcceptPunct(',')) continue;
      ExpectPunct(')');
      break;
    }
    return cols;
  }

  bool AtColumnDefEnd() const {
    return AtEnd() || PeekPunct(',') || PeekPunct(')') || PeekKw("FIRST") || PeekKw("AFTER");
  }

  /// The data type and attributes of a column, after its name.
  ColumnDefinition ColumnDef(std::string name) {
    ColumnDefinition def;
    size_t type_begin = Peek().begin;
    if (Peek().kind != Tok::kWord) Fail(fmt::format("expected a data type for column `{}`", name));
    const std::string w0 = Lower(Next().text);
    std::vector<std::string> words{w0};
    auto take = [&](std::string_view kw) {
      if (!AcceptKw(kw)) return false;
      words.push_back(Lower(kw));
      return true;
    };
    if (w0 == "double") {
      take("PRECISION");
    } else if (w0 == "character" || w0 == "char") {
      take("VARYING");
    } else if (w0 == "national") {
      if (!(take("CHAR") || take("CHARACTER") || take("VARCHAR"))) Fail("expected CHAR or VARCHAR after NATIONAL");
      if (words[1] != "varchar") take("VARYING");
    } else if (w0 == "nchar") {
      if (!take("VARCHAR")) take("VARYING");
    } else if (w0 == "long") {
      if (take("CHAR")) {
        if (!take("VARYING")) Fail("expected VARYING after LONG CHAR");
      } else if (!take("VARCHAR")) {
        take("VARBINARY");
      }
    }
    bool mariadb_json = options_.mariadb && words.size() == 1 && w0 == "json";
    bool serial = words.size() == 1 && w0 == "serial";
    std::string type_text;
    for (const auto& w : words) type_text += (type_text.empty() ? "" : " ") + w;
    if (mariadb_json) type_text = "longtext";
    if (AcceptPunct('(')) {
      type_text += "(";
      bool first = true;
      for (;;) {
        if (AcceptPunct(')') && first) break;
        const Token& a = Peek();
        if (a.kind == Tok::kNumber) {
          type_text += Next().text;
        } else if (a.kind == Tok::kString || a.kind == Tok::kDquoted) {
          // ENUM/SET member; trailing spaces are removed (MySQL manual 13.3.5).
          type_text += QuoteEnumValue(RTrimSpaces(Next().text));
        } else {
          Fail(fmt::format("unexpected argument in the type of column `{}`", name));
        }
        first = false;
        if (AcceptPunct(',')) {
          type_text += ",";
          continue;
        }
        ExpectPunct(')');
        break;
      }
      type_text += ")";
    }
    for (;;) {
      if (AcceptKw("UNSIGNED")) {
        type_text += " unsigned";
      } else if (AcceptKw("SIGNED")) {
      } else if (AcceptKw("ZEROFILL")) {
        type_text += " zerofill";
      } else {
        break;
      }
    }
    try {
      def.column = MakeColumnSchema(name, type_text, "", true);
    } catch (const Error& e) {
      throw ParseError(e.what(), type_begin);
    }
    ColumnSchema& col = def.column;
    if (serial) {
      col.nullable = false;
      def.auto_increment = true;
      def.unique = true;
    }
    std::string charset;  // explicit CHARACTER SET
    std::string collate_charset;
    bool json_valid = false;  // CHECK (json_valid(`this column`))
    for (;;) {
      if (AtColumnDefEnd()) break;
      if (AcceptKw("NOT")) {
        if (AcceptKw("NULL")) {
          col.nullable = false;
        } else if (AcceptKw("SECONDARY")) {
        } else {
          Fail("expected NULL after NOT");
        }
      } else if (AcceptKw("NULL")) {
        col.nullable = true;
      } else if (AcceptKw("DEFAULT")) {
        DefaultValue(&col.has_default, &col.default_value);
      } else if (AcceptKw("AUTO_INCREMENT")) {
        def.auto_increment = true;
      } else if (AcceptKw("PRIMARY")) {
        AcceptKw("KEY");
        def.primary_key = true;
      } else if (AcceptKw("KEY")) {
        def.primary_key = true;  // "KEY" in a column definition means PRIMARY KEY
      } else if (AcceptKw("UNIQUE")) {
        AcceptKw("KEY");
        def.unique = true;
      } else if (AcceptKw("COMMENT")) {
        def.comment = NameOrString("comment");
      } else if (AcceptKw("COLLATE")) {
        AcceptPunct('=');
        collate_charset = CharsetOfCollation(NameOrString("collation name"));
      } else if (PeekKw("CHARACTER") || PeekKw("CHARSET") || (PeekKw("CHAR") && PeekKw("SET", 1))) {
        if (!AcceptKw("CHARSET")) {
          Next();
          ExpectKw("SET");
        }
        AcceptPunct('=');
        charset = NameOrString("charset name");
      } else if (AcceptKw("ASCII")) {
        charset = "latin1";
      } else if (AcceptKw("UNICODE")) {
        charset = "ucs2";
      } else if (AcceptKw("BYTE")) {
        charset = "binary";
      } else if (AcceptKw("BINARY")) {
        // CHAR(n) BINARY: the binary collation of the column's charset, not the binary charset.
      } else if (AcceptKw("GENERATED")) {
        ExpectKw("ALWAYS");
        ExpectKw("AS");
        GeneratedExpr(col);
      } else if (AcceptKw("AS")) {
        GeneratedExpr(col);
      } else if (AcceptKw("VIRTUAL") || AcceptKw("STORED") || AcceptKw("PERSISTENT")) {
      } else if (AcceptKw("ON")) {
        ExpectKw("UPDATE");
        bool has = false;
        std::string ignored;
        DefaultValue(&has, &ignored);
      } else if (AcceptKw("COLUMN_FORMAT") || AcceptKw("STORAGE")) {
        Identifier("column format");
      } else if (AcceptKw("REFERENCES")) {
        References();
      } else if (AcceptKw("CONSTRAINT")) {
        if (!PeekKw("CHECK")) Identifier("constraint name");
        ExpectKw("CHECK");
        if (EqualsNoCase(JsonValidColumn(SkipParens()), name)) json_valid = true;
        Enforced();
      } else if (AcceptKw("CHECK")) {
        if (EqualsNoCase(JsonValidColumn(SkipParens()), name)) json_valid = true;
        Enforced();
      } else if (AcceptKw("VISIBLE") || AcceptKw("INVISIBLE")) {
      } else if (AcceptKw("SRID") || AcceptKw("REF_SYSTEM_ID")) {
        AcceptPunct('=');
        if (Peek().kind != Tok::kNumber) Fail("expected a number");
        Next();
      } else if (AcceptKw("ENGINE_ATTRIBUTE") || AcceptKw("SECONDARY_ENGINE_ATTRIBUTE")) {
        AcceptPunct('=');
        NameOrString("attribute");
      } else if (AcceptKw("WITH") || AcceptKw("WITHOUT")) {
        ExpectKw("SYSTEM");
        ExpectKw("VERSIONING");
      } else if (AcceptKw("COMPRESSED")) {
        if (AcceptPunct('=')) Identifier("compression method");
      } else if (AcceptKw("SERIAL")) {
        ExpectKw("DEFAULT");
        ExpectKw("VALUE");
        col.nullable = false;
        def.auto_increment = true;
        def.unique = true;
      } else if (Peek().kind == Tok::kWord && PeekPunct('=', 1)) {
        // MariaDB engine-defined column attribute: name = value.
        Next();
        Next();
        Next();
      } else {
        Fail(fmt::format("unexpected attribute in the definition of column `{}`", name));
      }
    }
    std::string cs = !charset.empty() ? charset : collate_charset;
    if (mariadb_json) {
      ApplyColumnCharset(col, cs.empty() ? "utf8mb4" : cs);
      MarkMariaDbJson(col);
    } else if (!cs.empty()) {
      ApplyColumnCharset(col, cs);
    }
    if (json_valid && options_.mariadb && col.kind == ValueKind::kString) MarkMariaDbJson(col);
    if (def.primary_key) col.nullable = false;
    return def;
  }

  void GeneratedExpr(ColumnSchema& col) {
    col.generated = true;
    if (AcceptKw("ROW")) {  // MariaDB system versioning: AS ROW START / AS ROW END
      if (!AcceptKw("START")) ExpectKw("END");
      return;
    }
    SkipParens();
    if (!AcceptKw("VIRTUAL") && !AcceptKw("STORED")) AcceptKw("PERSISTENT");
  }

  void Enforced() {
    if (AcceptKw("NOT")) {
      ExpectKw("ENFORCED");
    } else {
      AcceptKw("ENFORCED");
    }
  }

  void References() {
    Identifier("referenced table");
    if (AcceptPunct('.')) Identifier("referenced table");
    if (PeekPunct('(')) SkipParens();
    for (;;) {
      if (AcceptKw("MATCH")) {
        Identifier("match type");
      } else if (PeekKw("ON") && PeekAnyKw({"DELETE", "UPDATE"}, 1)) {
        pos_ += 2;
        if (AcceptKw("SET")) {
          if (!AcceptKw("NULL")) ExpectKw("DEFAULT");
        } else if (AcceptKw("NO")) {
          ExpectKw("ACTION");
        } else if (!AcceptKw("RESTRICT")) {
          ExpectKw("CASCADE");
        }
      } else {
        break;
      }
    }
  }

  /// DEFAULT value: literal, NULL, CURRENT_TIMESTAMP[(n)], (expression) or function call. The
  /// text is stored as MySQL's information_schema shows it (strings unquoted).
  void DefaultValue(bool* has, std::string* value) {
    const Token& t = Peek();
    *has = true;
    if (t.kind == Tok::kPunct && t.text == "(") {
      *value = SkipParens();
      return;
    }
    if (t.kind == Tok::kString || t.kind == Tok::kDquoted) {
      std::string s = Next().text;
      while (Peek().kind == Tok::kString) s += Next().text;  // 'a' 'b' is 'ab'
      *value = std::move(s);
      return;
    }
    if (t.kind == Tok::kPunct && (t.text == "-" || t.text == "+")) {
      std::string sign = Next().text;
      if (Peek().kind != Tok::kNumber) Fail("expected a number");
      *value = (sign == "-" ? "-" : "") + Next().text;
      return;
    }
    if (t.kind == Tok::kNumber || t.kind == Tok::kHex || t.kind == Tok::kBits) {
      *value = Next().text;
      return;
    }
    if (t.kind == Tok::kWord) {
      if (AcceptKw("NULL")) {
        *has = false;
        value->clear();
        return;
      }
      if (AcceptKw("TRUE")) {
        *value = "1";
        return;
      }
      if (AcceptKw("FALSE")) {
        *value = "0";
        return;
      }
      if (PeekAnyKw({"CURRENT_TIMESTAMP", "NOW", "LOCALTIME", "LOCALTIMESTAMP"})) {
        Next();
        std::string fsp;
        if (AcceptPunct('(')) {
          if (Peek().kind == Tok::kNumber) fsp = Next().text;
          ExpectPunct(')');
        }
        *value = fsp.empty() || fsp == "0" ? "CURRENT_TIMESTAMP" : "CURRENT_TIMESTAMP(" + fsp + ")";
        return;
      }
      size_t begin = t.begin;
      Next();
      if (PeekPunct('(')) {
        SkipParens();
        *value = Source(begin, toks_[pos_ - 1].end);
        return;
      }
      *value = toks_[pos_ - 1].text;
      return;
    }
    Fail("expected a default value");
  }

  ColumnPlacement Placement(std::string* after) {
    if (AcceptKw("FIRST")) return ColumnPlacement::kFirst;
    if (AcceptKw("AFTER")) {
      *after = Identifier("column name after AFTER");
      return ColumnPlacement::kAfter;
    }
    return ColumnPlacement::kDefault;
  }

  DdlChange AlterTable() {
    DdlChange c;
    c.kind = DdlKind::kAlterTable;
    c.if_exists = AcceptIfExists();
    c.table = table_ = TableRef();
    AcceptWait();
    while (!AtEnd()) {
      if (!AlterSpec(c)) break;
      AcceptPunct(',');
    }
    return c;
  }

  static bool IsIndexKeyword(const Token& t) {
    for (auto kw : {"INDEX", "KEY", "UNIQUE", "FULLTEXT", "SPATIAL", "FOREIGN", "CONSTRAINT", "CHECK", "PRIMARY"}) {
      if (IsKw(t, kw)) return true;
    }
    return false;
  }

  void AddElement(DdlChange& c, Element e, bool if_not_exists, bool allow_placement) {
    if (e.kind == Element::Kind::kColumn) {
      AlterOp op;
      op.kind = AlterOpKind::kAddColumn;
      op.column = e.column.column.name;
      op.definition = std::move(e.column);
      op.if_exists = if_not_exists;
      if (allow_placement) op.placement = Placement(&op.after);
      c.ops.push_back(std::move(op));
    } else if (e.kind == Element::Kind::kPrimaryKey) {
      AlterOp op;
      op.kind = AlterOpKind::kAddPrimaryKey;
      op.key_columns = std::move(e.key_columns);
      c.ops.push_back(std::move(op));
    }
  }

  /// Parses one ALTER TABLE specification into `c.ops`. Returns false when the rest of the
  /// statement was consumed (partition clauses).
  bool AlterSpec(DdlChange& c) {
    if (Peek().kind != Tok::kWord) Fail("expected an ALTER TABLE specification");
    static const std::string_view kPartitionOps[] = {"COALESCE", "REORGANIZE", "EXCHANGE", "ANALYZE",
                                                     "CHECK", "OPTIMIZE", "REBUILD", "REPAIR", "TRUNCATE",
                                                     "DISCARD", "IMPORT"};
    for (auto op : kPartitionOps) {
      if (PeekKw(op) && PeekAnyKw({"PARTITION", "PARTITIONS"}, 1)) {
        SkipRest();
        return false;
      }
    }
    if ((PeekKw("PARTITION") && PeekKw("BY", 1)) || (PeekKw("REMOVE") && PeekKw("PARTITIONING", 1))) {
      SkipRest();
      return false;
    }
    if (AcceptKw("ADD")) {
      bool column = AcceptKw("COLUMN");
      bool ine = AcceptIfNotExists();
      if (!column) {
        if (PeekKw("PARTITION")) {
          SkipRest();
          return false;
        }
        if (PeekKw("SYSTEM")) Fail("ADD SYSTEM VERSIONING adds hidden columns; re-read the schema");
        if (PeekKw("PERIOD") && PeekKw("FOR", 1)) {
          SkipElement();
          return true;
        }
        if (IsIndexKeyword(Peek())) {
          AddElement(c, TableElement(), ine, false);
          return true;
        }
      }
      if (AcceptPunct('(')) {
        for (;;) {
          AddElement(c, TableElement(), ine, false);
          if (AcceptPunct(',')) continue;
          ExpectPunct(')');
          break;
        }
        return true;
      }
      Element e;
      e.kind = Element::Kind::kColumn;
      std::string name = Identifier("column name");
      e.column = ColumnDef(std::move(name));
      AddElement(c, std::move(e), ine, true);
      return true;
    }
    if (AcceptKw("DROP")) {
      AlterOp op;
      op.kind = AlterOpKind::kDropColumn;
      if (AcceptKw("COLUMN")) {
        op.if_exists = AcceptIfExists();
        op.column = Identifier("column name");
      } else if (AcceptKw("PRIMARY")) {
        ExpectKw("KEY");
        op.kind = AlterOpKind::kDropPrimaryKey;
        c.ops.push_back(std::move(op));
        return true;
      } else if (AcceptKw("INDEX") || AcceptKw("KEY") || AcceptKw("CHECK")) {
        AcceptIfExists();
        Identifier("index name");
        return true;
      } else if (AcceptKw("FOREIGN")) {
        ExpectKw("KEY");
        AcceptIfExists();
        Identifier("foreign key name");
        return true;
      } else if (AcceptKw("CONSTRAINT")) {
        AcceptIfExists();
        std::string name = Identifier("constraint name");
        if (EqualsNoCase(name, "PRIMARY")) {
          op.kind = AlterOpKind::kDropPrimaryKey;
          c.ops.push_back(std::move(op));
        }
        return true;
      } else if (PeekKw("PARTITION")) {
        SkipRest();
        return false;
      } else if (PeekKw("SYSTEM")) {
        Fail("DROP SYSTEM VERSIONING removes hidden columns; re-read the schema");
      } else if (AcceptKw("PERIOD")) {
        ExpectKw("FOR");
        SkipElement();
        return true;
      } else {
        op.if_exists = AcceptIfExists();
        op.column = Identifier("column name");
      }
      if (!AcceptKw("RESTRICT")) AcceptKw("CASCADE");
      c.ops.push_back(std::move(op));
      return true;
    }
    if (AcceptKw("MODIFY")) {
      AcceptKw("COLUMN");
      AlterOp op;
      op.kind = AlterOpKind::kModifyColumn;
      op.if_exists = AcceptIfExists();
      op.column = Identifier("column name");
      op.definition = ColumnDef(op.column);
      op.placement = Placement(&op.after);
      c.ops.push_back(std::move(op));
      return true;
    }
    if (AcceptKw("CHANGE")) {
      AcceptKw("COLUMN");
      AlterOp op;
      op.kind = AlterOpKind::kChangeColumn;
      op.if_exists = AcceptIfExists();
      op.column = Identifier("column name");
      std::string new_name = Identifier("new column name");
      op.definition = ColumnDef(std::move(new_name));
      op.placement = Placement(&op.after);
      c.ops.push_back(std::move(op));
      return true;
    }
    if (AcceptKw("RENAME")) {
      if (AcceptKw("COLUMN")) {
        AlterOp op;
        op.kind = AlterOpKind::kRenameColumn;
        op.if_exists = AcceptIfExists();
        op.column = Identifier("column name");
        ExpectKw("TO");
        op.new_name = Identifier("new column name");
        c.ops.push_back(std::move(op));
        return true;
      }
      if (AcceptKw("INDEX") || AcceptKw("KEY")) {
        AcceptIfExists();
        Identifier("index name");
        ExpectKw("TO");
        Identifier("index name");
        return true;
      }
      if (!AcceptKw("TO") && !AcceptKw("AS")) AcceptPunct('=');
      AlterOp op;
      op.kind = AlterOpKind::kRenameTable;
      op.new_table = TableRef();
      c.ops.push_back(std::move(op));
      return true;
    }
    if (AcceptKw("ALTER")) {
      if (AcceptKw("INDEX") || AcceptKw("KEY") || AcceptKw("CHECK") || AcceptKw("CONSTRAINT")) {
        Identifier("index name");
        while (!AtEnd() && !PeekPunct(',')) Next();  // [NOT] VISIBLE|INVISIBLE|IGNORED|ENFORCED
        return true;
      }
      AcceptKw("COLUMN");
      AlterOp op;
      op.if_exists = AcceptIfExists();
      op.column = Identifier("column name");
      if (AcceptKw("SET")) {
        if (AcceptKw("DEFAULT")) {
          op.kind = AlterOpKind::kSetDefault;
          DefaultValue(&op.has_default, &op.default_value);
        } else if (AcceptKw("VISIBLE") || AcceptKw("INVISIBLE")) {
          return true;
        } else {
          Fail("expected DEFAULT, VISIBLE or INVISIBLE after SET");
        }
      } else if (AcceptKw("DROP")) {
        ExpectKw("DEFAULT");
        op.kind = AlterOpKind::kDropDefault;
      } else {
        Fail("expected SET or DROP after ALTER COLUMN");
      }
      c.ops.push_back(std::move(op));
      return true;
    }
    if (AcceptKw("CONVERT")) {
      ExpectKw("TO");
      if (!AcceptKw("CHARSET")) {
        if (!AcceptKw("CHARACTER")) ExpectKw("CHAR");
        ExpectKw("SET");
      }
      AlterOp op;
      op.kind = AlterOpKind::kConvertCharset;
      std::string cs = NameOrString("charset name");
      op.charset = EqualsNoCase(cs, "default") ? "default" : NormalizeCharset(cs);
      if (AcceptKw("COLLATE")) NameOrString("collation name");
      c.ops.push_back(std::move(op));
      return true;
    }
    if (AcceptKw("ALGORITHM") || AcceptKw("LOCK")) {
      AcceptPunct('=');
      Identifier("value");
      return true;
    }
    if (AcceptKw("FORCE")) return true;
    if ((PeekKw("ENABLE") || PeekKw("DISABLE")) && PeekKw("KEYS", 1)) {
      pos_ += 2;
      return true;
    }
    if ((PeekKw("DISCARD") || PeekKw("IMPORT")) && PeekKw("TABLESPACE", 1)) {
      pos_ += 2;
      return true;
    }
    if ((PeekKw("WITH") || PeekKw("WITHOUT")) && PeekKw("VALIDATION", 1)) {
      pos_ += 2;
      return true;
    }
    if (PeekKw("ORDER") && PeekKw("BY", 1)) {
      pos_ += 2;
      for (;;) {
        Identifier("column name");
        if (!AcceptKw("ASC")) AcceptKw("DESC");
        if (!PeekPunct(',') || Peek(1).kind == Tok::kEnd || IsAlterSpecStart(Peek(1))) break;
        Next();
      }
      return true;
    }
    if (PeekKw("ADD") || PeekKw("DROP")) Fail("unexpected ALTER TABLE specification");
    std::string charset;
    std::string collate_charset;
    bool explicit_charset = false;
    if (!TableOption(&charset, &collate_charset, &explicit_charset)) {
      Fail("unknown ALTER TABLE specification");
    }
    if (explicit_charset || !collate_charset.empty()) {
      AlterOp op;
      op.kind = AlterOpKind::kSetTableCharset;
      op.charset = explicit_charset ? charset : collate_charset;
      // COLLATE after CHARSET belongs to the same option.
      if (explicit_charset && PeekKw("COLLATE")) {
        Next();
        AcceptPunct('=');
        NameOrString("collation name");
      }
      c.ops.push_back(std::move(op));
    }
    return true;
  }

  static bool IsAlterSpecStart(const Token& t) {
    for (auto kw : {"ADD", "DROP", "MODIFY", "CHANGE", "RENAME", "ALTER", "CONVERT", "ALGORITHM", "LOCK",
                    "FORCE", "ENGINE", "DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "ORDER", "AUTO_INCREMENT"}) {
      if (IsKw(t, kw)) return true;
    }
    return false;
  }

  std::vector<DdlChange> DropTable() {
    bool if_exists = AcceptIfExists();
    std::vector<DdlChange> out;
    for (;;) {
      DdlChange c;
      c.kind = DdlKind::kDropTable;
      c.if_exists = if_exists;
      c.table = TableRef();
      if (out.empty()) table_ = c.table;
      out.push_back(std::move(c));
      if (!AcceptPunct(',')) break;
    }
    AcceptWait();
    if (!AcceptKw("RESTRICT")) AcceptKw("CASCADE");
    ExpectEnd();
    return out;
  }

  std::vector<DdlChange> RenameTables() {
    bool if_exists = AcceptIfExists();
    std::vector<DdlChange> out;
    for (;;) {
      DdlChange c;
      c.kind = DdlKind::kRenameTable;
      c.if_exists = if_exists;
      c.table = TableRef();
      if (out.empty()) table_ = c.table;
      AcceptWait();
      ExpectKw("TO");
      c.new_table = TableRef();
      out.push_back(std::move(c));
      if (!AcceptPunct(',')) break;
    }
    ExpectEnd();
    return out;
  }

  /// [DEFAULT] CHARACTER SET / COLLATE / ENCRYPTION / COMMENT options of CREATE/ALTER DATABASE.
  std::string DatabaseOptions() {
    std::string charset;
    std::string collate_charset;
    while (!AtEnd()) {
      AcceptKw("DEFAULT");
      if (AcceptKw("CHARACTER") || AcceptKw("CHAR")) {
        ExpectKw("SET");
        AcceptPunct('=');
        charset = NormalizeCharset(NameOrString("charset name"));
      } else if (AcceptKw("CHARSET")) {
        AcceptPunct('=');
        charset = NormalizeCharset(NameOrString("charset name"));
      } else if (AcceptKw("COLLATE")) {
        AcceptPunct('=');
        collate_charset = CharsetOfCollation(NameOrString("collation name"));
      } else if (AcceptKw("ENCRYPTION") || AcceptKw("COMMENT")) {
        AcceptPunct('=');
        NameOrString("value");
      } else if (AcceptKw("READ")) {
        ExpectKw("ONLY");
        AcceptPunct('=');
        Next();
      } else {
        Fail("unexpected database option");
      }
    }
    return charset.empty() ? collate_charset : charset;
  }

  DdlChange CreateDatabase(bool or_replace) {
    DdlChange c;
    c.kind = DdlKind::kCreateDatabase;
    c.or_replace = or_replace;
    c.if_not_exists = AcceptIfNotExists();
    c.database = Identifier("database name");
    c.charset = DatabaseOptions();
    return c;
  }

  DdlChange AlterDatabase() {
    DdlChange c;
    c.kind = DdlKind::kAlterDatabase;
    if (PeekAnyKw({"DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "ENCRYPTION", "READ", "COMMENT", "CHAR"})) {
      if (db_.empty()) Fail("ALTER DATABASE without a name and without a current database");
      c.database = std::string(db_);
    } else {
      c.database = Identifier("database name");
    }
    if (AcceptKw("UPGRADE")) return Ignored("ALTER DATABASE ... UPGRADE DATA DIRECTORY NAME");
    c.charset = DatabaseOptions();
    return c;
  }

  DdlChange DropDatabase() {
    DdlChange c;
    c.kind = DdlKind::kDropDatabase;
    c.if_exists = AcceptIfExists();
    c.database = Identifier("database name");
    ExpectEnd();
    return c;
  }

  std::string_view sql_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  std::string_view db_;
  DdlParseOptions options_;
  QualifiedName table_;  ///< the table of the statement once known, for kUnparsed results
};

}  // namespace

const char* DdlKindName(DdlKind kind) {
  switch (kind) {
    case DdlKind::kIgnored: return "Ignored";
    case DdlKind::kUnparsed: return "Unparsed";
    case DdlKind::kCreateTable: return "CreateTable";
    case DdlKind::kCreateTableLike: return "CreateTableLike";
    case DdlKind::kAlterTable: return "AlterTable";
    case DdlKind::kDropTable: return "DropTable";
    case DdlKind::kRenameTable: return "RenameTable";
    case DdlKind::kTruncateTable: return "TruncateTable";
    case DdlKind::kCreateDatabase: return "CreateDatabase";
    case DdlKind::kDropDatabase: return "DropDatabase";
    case DdlKind::kAlterDatabase: return "AlterDatabase";
  }
  return "?";
}

std::vector<DdlChange> ParseDdl(std::string_view sql, std::string_view current_database,
                                const DdlParseOptions& options) {
  std::vector<Token> tokens;
  try {
    tokens = Tokenize(sql);
  } catch (const ParseError& e) {
    Parser p(sql, {Token{}}, current_database, options);
    return {p.Unparsed(e.what(), e.offset())};
  }
  Parser parser(sql, std::move(tokens), current_database, options);
  return parser.Parse();
}

}  // namespace sluice::mysql
