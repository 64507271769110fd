#include "sql/source_ddl.h"

#include <cctype>
#include <cstdint>

#include <fmt/format.h>
#include <pg_query.h>
#include <simdjson.h>

#include "common/error.h"

namespace sluice::sql {
namespace {

namespace dom = simdjson::dom;

enum class Tok { kWord, kQuotedIdent, kString, kNumber, kPunct };

struct Token {
  Tok kind;
  size_t begin = 0, end = 0;  ///< byte range in the text
  std::string text;           ///< words upper-case; identifiers and strings unquoted
};

std::string Upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

std::string Lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

class Scanner {
 public:
  Scanner(std::string_view file, std::string_view text) : file_(file), text_(text) {}

  SourceLocation Locate(size_t offset) const { return LocateIn(file_, text_, static_cast<int64_t>(offset)); }

  template <typename... Args>
  [[noreturn]] void Fail(size_t offset, fmt::format_string<Args...> f, Args&&... args) const {
    SourceLocation l = Locate(offset);
    throw Error(ErrorKind::kSql,
                fmt::format("{}:{}:{}: {}", l.file, l.line, l.column, fmt::format(f, std::forward<Args>(args)...)));
  }

  /// All tokens; comments and whitespace skipped.
  std::vector<Token> Tokens() const {
    std::vector<Token> out;
    size_t i = 0;
    const size_t n = text_.size();
    while (i < n) {
      const char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '-' && i + 1 < n && text_[i + 1] == '-') {
        while (i < n && text_[i] != '\n') ++i;
      } else if (c == '/' && i + 1 < n && text_[i + 1] == '*') {
        const size_t e = text_.find("*/", i + 2);
        if (e == std::string_view::npos) Fail(i, "unterminated /* comment");
        i = e + 2;
      } else if (c == '\'' || c == '"') {
        Token t{c == '\'' ? Tok::kString : Tok::kQuotedIdent, i, i, ""};
        size_t j = i + 1;
        while (true) {
          if (j >= n) Fail(i, "unterminated {}", c == '\'' ? "string literal" : "quoted identifier");
          if (text_[j] == c) {
            if (j + 1 < n && text_[j + 1] == c) {
              t.text += c;
              j += 2;
              continue;
            }
            break;
          }
          t.text += text_[j++];
        }
        t.end = j + 1;
        out.push_back(std::move(t));
        i = j + 1;
      } else if (c == '$') {
        // $tag$ ... $tag$ (dollar quoting), or a stray '$'.
        size_t j = i + 1;
        while (j < n && (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '_')) ++j;
        if (j < n && text_[j] == '$') {
          const std::string_view tag = text_.substr(i, j - i + 1);
          const size_t e = text_.find(tag, j + 1);
          if (e == std::string_view::npos) Fail(i, "unterminated dollar-quoted string");
          out.push_back({Tok::kString, i, e + tag.size(), std::string(text_.substr(j + 1, e - j - 1))});
          i = e + tag.size();
        } else {
          out.push_back({Tok::kPunct, i, i + 1, "$"});
          ++i;
        }
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80) {
        size_t j = i;
        while (j < n && (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '_' || text_[j] == '$' ||
                         static_cast<unsigned char>(text_[j]) >= 0x80)) {
          ++j;
        }
        out.push_back({Tok::kWord, i, j, Upper(text_.substr(i, j - i))});
        i = j;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t j = i;
        while (j < n && (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '.')) ++j;
        out.push_back({Tok::kNumber, i, j, std::string(text_.substr(i, j - i))});
        i = j;
      } else {
        out.push_back({Tok::kPunct, i, i + 1, std::string(1, c)});
        ++i;
      }
    }
    return out;
  }

  std::string_view text() const { return text_; }

 private:
  std::string_view file_;
  std::string_view text_;
};

bool IsPunct(const Token& t, char c) { return t.kind == Tok::kPunct && t.text.size() == 1 && t.text[0] == c; }
bool IsWord(const Token& t, std::string_view w) { return t.kind == Tok::kWord && t.text == w; }

/// An identifier's name as SQL folds it: unquoted lower-case, quoted as written.
std::string IdentName(const Scanner& s, const Token& t) {
  if (t.kind == Tok::kQuotedIdent) return t.text;
  if (t.kind == Tok::kWord) return Lower(s.text().substr(t.begin, t.end - t.begin));
  s.Fail(t.begin, "expected a name, found '{}'", s.text().substr(t.begin, t.end - t.begin));
}

std::string_view Str(dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v)) return {};
  return v;
}

/// Names of a list of {"String": {"sval"|"str": ...}} nodes.
std::vector<std::string> StringList(dom::element list) {
  std::vector<std::string> r;
  dom::array a;
  if (list.get(a)) return r;
  for (dom::element e : a) {
    dom::element s;
    if (e["String"].get(s)) continue;
    std::string_view v = Str(s, "sval");
    if (v.empty()) v = Str(s, "str");
    r.emplace_back(v);
  }
  return r;
}

/// Column names, types and primary key of `CREATE TABLE name (...)` from libpg_query.
void ParseColumns(const Scanner& s, const std::string& masked, size_t stmt_begin, DeclaredSource* d) {
  PgQueryParseResult r = pg_query_parse(masked.c_str());
  if (r.error) {
    const std::string msg = r.error->message;
    const size_t pos = r.error->cursorpos > 0 ? static_cast<size_t>(r.error->cursorpos - 1) : stmt_begin;
    pg_query_free_parse_result(r);
    s.Fail(pos, "{}", msg);
  }
  const std::string json = r.parse_tree;
  pg_query_free_parse_result(r);
  dom::parser parser;
  dom::element doc;
  if (parser.parse(json).get(doc)) throw Error(ErrorKind::kInternal, "libpg_query returned unreadable JSON");
  dom::array stmts;
  dom::element create;
  if (doc["stmts"].get(stmts) || stmts.size() != 1 || stmts.at(0)["stmt"]["CreateStmt"].get(create)) {
    s.Fail(stmt_begin, "expected CREATE TABLE name (column type, ..., PRIMARY KEY (...))");
  }
  dom::array elts;
  if (create["tableElts"].get(elts)) s.Fail(stmt_begin, "CREATE TABLE {} declares no columns", d->name);
  for (dom::element e : elts) {
    dom::element col, con;
    if (!e["ColumnDef"].get(col)) {
      d->columns.emplace_back(Str(col, "colname"));
      std::string type;
      auto names = StringList(col["typeName"]["names"]);
      if (!names.empty()) type = names.back();
      dom::array mods;
      if (!col["typeName"]["typmods"].get(mods) && mods.size() > 0) {
        std::string m;
        for (dom::element mod : mods) {
          int64_t v = 0;
          if (!mod["A_Const"]["ival"]["ival"].get(v) || !mod["A_Const"]["val"]["Integer"]["ival"].get(v)) {
            m += (m.empty() ? "" : ",") + std::to_string(v);
          }
        }
        if (!m.empty()) type += "(" + m + ")";
      }
      d->column_types.push_back(type);
      dom::array cons;
      if (!col["constraints"].get(cons)) {
        for (dom::element c : cons) {
          if (Str(c["Constraint"], "contype") == "CONSTR_PRIMARY") d->primary_key.push_back(d->columns.back());
        }
      }
    } else if (!e["Constraint"].get(con)) {
      if (Str(con, "contype") == "CONSTR_PRIMARY") {
        for (auto& k : StringList(con["keys"])) d->primary_key.push_back(k);
      }
    }
  }
}

/// Parses "key = value, ..." up to the matching ')' starting after '(' at tokens[i]; returns the
/// index after ')'.
size_t ParseOptions(const Scanner& s, const std::vector<Token>& t, size_t i, size_t end,
                    std::map<std::string, std::string>* out) {
  while (i < end && !IsPunct(t[i], ')')) {
    std::string key;
    const size_t key_at = t[i].begin;
    while (true) {
      if (i >= end || (t[i].kind != Tok::kWord && t[i].kind != Tok::kQuotedIdent)) {
        s.Fail(i < end ? t[i].begin : key_at, "expected an option name in WITH (...)");
      }
      key += t[i].kind == Tok::kWord ? Lower(t[i].text) : t[i].text;
      ++i;
      if (i < end && IsPunct(t[i], '.')) {
        key += '.';
        ++i;
        continue;
      }
      break;
    }
    if (i >= end || !IsPunct(t[i], '=')) s.Fail(i < end ? t[i].begin : key_at, "expected '=' after option {}", key);
    ++i;
    if (i >= end || IsPunct(t[i], ',') || IsPunct(t[i], ')')) s.Fail(key_at, "option {} has no value", key);
    (*out)[key] = t[i].kind == Tok::kWord ? Lower(t[i].text) : t[i].text;
    ++i;
    if (i < end && IsPunct(t[i], ',')) ++i;
  }
  if (i >= end) s.Fail(t[end - 1].begin, "unterminated WITH (...) option list");
  return i + 1;
}

}  // namespace

std::string ExtractSourceTables(std::string_view file_name, std::string_view text, std::vector<DeclaredSource>* out,
                                std::vector<DeclaredSink>* sinks) {
  Scanner s(file_name, text);
  const std::vector<Token> t = s.Tokens();
  std::string rest(text);
  size_t i = 0;
  while (i < t.size()) {
    // One statement: tokens [i, e), e at ';' or the end.
    size_t e = i;
    while (e < t.size() && !IsPunct(t[e], ';')) ++e;
    const size_t stmt_end = e < t.size() ? t[e].end : text.size();
    size_t k = i;
    if (k < e && IsWord(t[k], "CREATE")) {
      ++k;
      if (k + 1 < e && IsWord(t[k], "OR") && IsWord(t[k + 1], "REPLACE")) k += 2;
      const bool is_table = k < e && IsWord(t[k], "TABLE");
      const bool is_source = k < e && IsWord(t[k], "SOURCE");
      if (k < e && IsWord(t[k], "SINK")) {
        DeclaredSink d;
        d.location = s.Locate(t[i].begin);
        ++k;
        if (k + 2 < e && IsWord(t[k], "IF") && IsWord(t[k + 1], "NOT") && IsWord(t[k + 2], "EXISTS")) k += 3;
        if (k >= e) s.Fail(t[i].begin, "CREATE SINK without a name");
        d.name = IdentName(s, t[k]);
        ++k;
        if (k < e && IsWord(t[k], "AS")) {
          s.Fail(t[k].begin,
                 "unsupported: CREATE SINK {} AS SELECT ...; write the query as CREATE MATERIALIZED VIEW {} AS SELECT "
                 "... (every view is written to ClickHouse)",
                 d.name, d.name);
        }
        if (k >= e || !IsWord(t[k], "FROM")) s.Fail(k < e ? t[k].begin : t[i].begin, "expected FROM <view> after CREATE SINK {}", d.name);
        ++k;
        if (k >= e) s.Fail(t[i].begin, "CREATE SINK {}: FROM without a view", d.name);
        d.from = IdentName(s, t[k]);
        ++k;
        while (k + 1 < e && IsPunct(t[k], '.')) {  // schema.view
          d.from = IdentName(s, t[k + 1]);
          k += 2;
        }
        if (k < e && IsWord(t[k], "WITH")) {
          if (k + 1 >= e || !IsPunct(t[k + 1], '(')) s.Fail(t[k].begin, "expected '(' after WITH");
          k = ParseOptions(s, t, k + 2, e, &d.options);
        }
        // FORMAT UPSERT|DEBEZIUM ENCODE JSON [(...)]: how the view's topic is written.
        const std::string connector = d.options.count("connector") ? d.options["connector"] : "";
        if (k < e && IsWord(t[k], "FORMAT")) {
          if (k + 1 >= e) s.Fail(t[k].begin, "FORMAT without a format");
          std::string format = t[k + 1].text;
          for (char& ch : format) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
          if (connector == "kafka") {
            if (format == "UPSERT" || format == "DEBEZIUM") {
              d.format = format == "UPSERT" ? "upsert" : "debezium";
            } else if (format == "PLAIN") {
              s.Fail(t[k + 1].begin, "CREATE SINK {}: FORMAT PLAIN (an append-only stream) is not supported: a view's "
                     "rows change; use FORMAT UPSERT ENCODE JSON or FORMAT DEBEZIUM ENCODE JSON", d.name);
            } else {
              s.Fail(t[k + 1].begin, "CREATE SINK {}: FORMAT {} is not supported (FORMAT UPSERT or FORMAT DEBEZIUM, "
                     "ENCODE JSON)", d.name, t[k + 1].text);
            }
          }
          k += 2;
          if (k < e && IsWord(t[k], "ENCODE")) {
            if (k + 1 >= e) s.Fail(t[k].begin, "ENCODE without an encoding");
            std::string encode = t[k + 1].text;
            for (char& ch : encode) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            if (connector == "kafka" && encode != "JSON") {
              s.Fail(t[k + 1].begin, "CREATE SINK {}: ENCODE {} is not supported (sluice writes ENCODE JSON)", d.name,
                     t[k + 1].text);
            }
            k += 2;
          }
        }
        while (k < e) ++k;  // ENCODE options (force_append_only, ...): not used
        if (connector != "clickhouse" && connector != "kafka") {
          s.Fail(t[i].begin, "CREATE SINK {}: connector '{}' is not supported (sluice writes every view to ClickHouse, "
                 "and with bus.type kafka to its topic: connector = 'clickhouse' or 'kafka')", d.name, connector);
        }
        for (size_t p = t[i].begin; p < stmt_end; ++p) {
          if (rest[p] != '\n') rest[p] = ' ';
        }
        if (sinks) sinks->push_back(std::move(d));
        i = e + 1;
        continue;
      }
      if (is_source) {
        s.Fail(t[i].begin,
               "unsupported: CREATE SOURCE (an append-only stream); declare the topic's table with CREATE TABLE name "
               "(columns, PRIMARY KEY (...)) WITH (connector = 'kafka', topic = '...') FORMAT DEBEZIUM ENCODE JSON");
      }
      if (is_table) {
        DeclaredSource d;
        d.location = s.Locate(t[i].begin);
        ++k;
        if (k + 2 < e && IsWord(t[k], "IF") && IsWord(t[k + 1], "NOT") && IsWord(t[k + 2], "EXISTS")) k += 3;
        if (k >= e) s.Fail(t[i].begin, "CREATE TABLE without a name");
        d.name = IdentName(s, t[k]);
        ++k;
        while (k + 1 < e && IsPunct(t[k], '.')) {  // schema.table: the table's name is what views use
          d.name = IdentName(s, t[k + 1]);
          k += 2;
        }
        // The column list: the parenthesised group right after the name.
        if (k >= e || !IsPunct(t[k], '(')) s.Fail(k < e ? t[k].begin : t[i].begin, "expected '(' and the columns of {}", d.name);
        int depth = 0;
        size_t close = k;
        for (; close < e; ++close) {
          if (IsPunct(t[close], '(')) ++depth;
          if (IsPunct(t[close], ')') && --depth == 0) break;
        }
        if (close >= e) s.Fail(t[k].begin, "unterminated column list of {}", d.name);
        size_t j = close + 1;
        bool have_with = false;
        if (j < e && IsWord(t[j], "WITH")) {
          if (j + 1 >= e || !IsPunct(t[j + 1], '(')) s.Fail(t[j].begin, "expected '(' after WITH");
          j = ParseOptions(s, t, j + 2, e, &d.options);
          have_with = true;
        }
        if (j < e && IsWord(t[j], "FORMAT")) {
          if (j + 1 >= e) s.Fail(t[j].begin, "FORMAT without a format");
          d.format = t[j + 1].text;
          j += 2;
          if (j < e && IsWord(t[j], "ENCODE")) {
            if (j + 1 >= e) s.Fail(t[j].begin, "ENCODE without an encoding");
            d.encode = t[j + 1].text;
            j += 2;
            if (j < e && IsPunct(t[j], '(')) {
              std::map<std::string, std::string> encode_options;
              j = ParseOptions(s, t, j + 1, e, &encode_options);
            }
          }
        }
        if (!have_with) {
          s.Fail(t[i].begin,
                 "unsupported: CREATE TABLE {} without WITH (connector = 'kafka', topic = '...') FORMAT DEBEZIUM "
                 "ENCODE JSON — a view's tables are the captured source tables, or Debezium topics declared that way",
                 d.name);
        }
        if (j < e) s.Fail(t[j].begin, "unexpected '{}' after the FORMAT/ENCODE clause of {}", t[j].text, d.name);
        const std::string connector = d.options.count("connector") ? d.options["connector"] : "";
        if (connector != "kafka") {
          s.Fail(t[i].begin, "CREATE TABLE {}: connector '{}' is not supported (only connector = 'kafka')", d.name,
                 connector);
        }
        if (d.options["topic"].empty()) s.Fail(t[i].begin, "CREATE TABLE {}: WITH (...) names no topic", d.name);
        if (d.format != "DEBEZIUM" || (d.encode != "JSON" && !d.encode.empty())) {
          s.Fail(t[i].begin,
                 "CREATE TABLE {}: FORMAT {} ENCODE {} is not supported (only FORMAT DEBEZIUM ENCODE JSON, the "
                 "change events of Debezium and of sluice capture)",
                 d.name, d.format.empty() ? "(none)" : d.format, d.encode.empty() ? "(none)" : d.encode);
        }
        // libpg_query parses the column list alone; everything else is blanked so positions hold.
        std::string masked(text.size(), ' ');
        for (size_t p = 0; p < text.size(); ++p) {
          if (text[p] == '\n') masked[p] = '\n';
        }
        for (size_t p = t[i].begin; p < t[close].end; ++p) masked[p] = text[p];
        // "CREATE OR REPLACE TABLE" / "IF NOT EXISTS" are fine for PostgreSQL except OR REPLACE.
        if (IsWord(t[i + 1], "OR")) {
          for (size_t p = t[i + 1].begin; p < t[i + 2].end; ++p) masked[p] = ' ';
        }
        ParseColumns(s, masked, t[i].begin, &d);
        if (d.primary_key.empty()) {
          s.Fail(t[i].begin, "CREATE TABLE {}: FORMAT DEBEZIUM needs a PRIMARY KEY (the key of the change events)",
                 d.name);
        }
        for (size_t p = t[i].begin; p < stmt_end; ++p) {
          if (rest[p] != '\n') rest[p] = ' ';
        }
        out->push_back(std::move(d));
      }
    }
    i = e + 1;
  }
  return rest;
}

}  // namespace sluice::sql
