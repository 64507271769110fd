// Data-driven view tests (sqllogictest-like) over tests/sql/*.test. Format, blocks separated by
// blank lines, '#' starts a comment line:
//   database NAME                  default database for unqualified tables (default "test")
//   statement                      a MySQL CREATE TABLE (parsed by mysql/ddl_parser.h)
//   view                           CREATE MATERIALIZED VIEW statements
//   error SUBSTRING                views that must fail to compile with a message containing SUBSTRING
//   insert|update|delete TABLE     rows, one per line (`1, NULL, 'x', 12.50`); update gives the
//                                  whole new row (matched by primary key), delete the primary key
//   commit [error SUBSTRING]       ends the batch (a source transaction); optionally must fail
//   query VIEW                     ends the batch, then the view's rows (space-separated, any order),
//                                  without its hidden key columns
//   columns VIEW                   the view's output columns, one per line in order:
//                                  `name type[ key][ hidden]` (key: in the unique key; hidden: a
//                                  hidden key column, see src/sql/README.md)
// Every batch is also checked against the from-scratch oracle for every view.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "view_harness.h"

namespace sluice::sql::testing {
namespace {

std::vector<std::string> TestFiles() {
  std::vector<std::string> files;
  std::filesystem::path dir = std::filesystem::path(SLUICE_SOURCE_DIR) / "tests" / "sql";
  if (std::filesystem::exists(dir)) {
    for (auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() == ".test") files.push_back(e.path().filename().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct Block {
  int line = 0;
  std::string header;
  std::vector<std::string> body;
};

std::vector<Block> ReadBlocks(const std::string& path) {
  std::ifstream in(path);
  std::vector<Block> blocks;
  std::string line;
  int n = 0;
  Block cur;
  auto end_block = [&] {
    if (!cur.header.empty()) blocks.push_back(cur);
    cur = Block{};
  };
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line[0] == '#') continue;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      end_block();
      continue;
    }
    if (cur.header.empty()) {
      cur.header = line;
      cur.line = n;
    } else {
      cur.body.push_back(line);
    }
  }
  end_block();
  return blocks;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (auto& l : lines) s += l + "\n";
  return s;
}

class SqlLogicTest : public ::testing::TestWithParam<std::string> {};

/// Persisted mode: a budget so small that nearly every access misses and every join bucket is
/// "partial" (read from RocksDB at each probe), with a commit after every batch, and min/max
/// multisets over 2 values stored value by value with a window of their 1 smallest and largest.
constexpr size_t kTinyBudget = 2048;
constexpr size_t kTinyBucket = 128;

std::unique_ptr<ViewHarness> MakeHarness(const std::string& database, bool persisted) {
  auto h = std::make_unique<ViewHarness>(database);
  if (persisted) {
    h->SetMultisetLimits(2, 1);  // min/max multisets of 3+ values stored value by value, windows of 1+1
    h->UsePersistedState(kTinyBudget, kTinyBucket);
  }
  return h;
}

void RunFile(const std::string& file, bool persisted) {
  const std::string path = std::string(SLUICE_SOURCE_DIR) + "/tests/sql/" + file;
  auto blocks = ReadBlocks(path);
  ASSERT_FALSE(blocks.empty()) << path;
  std::unique_ptr<ViewHarness> h = MakeHarness("test", persisted);
  bool pending = false;
  int queries = 0;
  auto commit = [&](const Block& b) {
    if (!pending) return;
    pending = false;
    std::string err = h->Commit();
    ASSERT_EQ(err, "") << path << ":" << b.line << ": oracle mismatch";
  };
  for (const Block& b : blocks) {
    SCOPED_TRACE(path + ":" + std::to_string(b.line));
    std::istringstream hs(b.header);
    std::string word, arg;
    hs >> word;
    std::getline(hs, arg);
    if (!arg.empty() && arg[0] == ' ') arg.erase(0, 1);
    if (word == "database") {
      ASSERT_FALSE(pending);
      h = MakeHarness(arg, persisted);
    } else if (word == "statement") {
      h->CreateTable(Join(b.body));
    } else if (word == "view") {
      try {
        h->CreateViews(file, Join(b.body));
      } catch (const Error& e) {
        FAIL() << "view failed to compile: " << e.what();
      }
    } else if (word == "error") {
      try {
        h->CreateViews(file, Join(b.body));
        FAIL() << "expected an error containing: " << arg;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(arg), std::string::npos) << "error was: " << e.what();
      }
    } else if (word == "insert" || word == "update" || word == "delete") {
      for (auto& l : b.body) {
        if (word == "insert") {
          h->Insert(arg, h->ParseRow(arg, l));
        } else if (word == "update") {
          h->Update(arg, h->ParseRow(arg, l));
        } else {
          int keys = 0;
          for (char c : l) keys += c == ',';
          h->Delete(arg, h->ParseRow(arg, l, keys + 1));
        }
      }
      pending = true;
    } else if (word == "commit") {
      if (arg.rfind("error ", 0) == 0) {
        std::string want = arg.substr(6);
        pending = false;
        try {
          std::string err = h->Commit();
          FAIL() << "expected a runtime error containing: " << want << " (got: " << err << ")";
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << "error was: " << e.what();
        }
        return;  // the views' state is undefined after a failed batch
      }
      commit(b);
    } else if (word == "columns") {
      EXPECT_EQ(h->ViewColumns(arg), b.body) << "view " << arg;
    } else if (word == "query") {
      commit(b);
      if (::testing::Test::HasFatalFailure()) return;
      std::vector<std::string> want = b.body;
      for (auto& w : want) {
        while (!w.empty() && (w.back() == ' ' || w.back() == '\r')) w.pop_back();
      }
      std::sort(want.begin(), want.end());
      EXPECT_EQ(h->ViewRows(arg), want) << "view " << arg;
      ++queries;
    } else {
      FAIL() << "unknown directive: " << b.header;
    }
    if (::testing::Test::HasFatalFailure()) return;
  }
  commit(blocks.back());
  EXPECT_GT(queries, 0) << "a test file should check at least one view";
}

TEST_P(SqlLogicTest, Run) { RunFile(GetParam(), false); }

/// The same file with the views' state in RocksDB behind a tiny cache (sql/view_state.h).
TEST_P(SqlLogicTest, RunPersisted) { RunFile(GetParam(), true); }

INSTANTIATE_TEST_SUITE_P(Files, SqlLogicTest, ::testing::ValuesIn(TestFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param.substr(0, info.param.size() - 5);
                           for (auto& c : n) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace sluice::sql::testing
