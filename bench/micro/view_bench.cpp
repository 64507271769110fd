// Micro-benchmark of the streaming SQL views (issue 5 "Performance", issue 8 "views"): real SQL
// compiled with CompileViews and maintained incrementally by ViewPipeline over an in-memory
// changelog of two tables, flushed at every source transaction as `sluice run` does.
//
// The changelog (deterministic, seed 42; sizes times --views_scale):
//   preload   5k customers and 50k orders as inserts (a snapshot), not timed;
//   changes   100k row changes in transactions of 100 changes: 90% of orders, 10% of customers,
//             in runs of 1..20 changes of one table (one chunk per run, as the capture builds
//             them); per table 60% inserts, 30% updates (a kUpdateBefore/kUpdateAfter pair, one
//             change), 10% deletes. New orders pick customers with a quadratic skew; half of the
//             updates hit the ~2000 most recent orders (status moves pending -> paid -> shipped ->
//             delivered, or cancelled; the amount changes on 30% of them, the customer on 5%, which
//             moves join and group keys); customers are renamed or move region.
// items_per_second = changes of the whole changelog (both tables; an update is one change) per
// second of wall time, with only the tables a view reads pushed to it (as ViewStage routes them).
// An iteration stops early after --views_time_cap seconds (default 20; the label says so), so a
// pathologically slow variant does not hold up `make bench`: its rate is then over a prefix.
//
// `view_bench --views_dump=PATH` writes the same changelog as TSV (PATH) and the views' SQL and
// the sizes as JSON (PATH.json) and exits: bench/harness.py's `views` stage replays it into
// MariaDB and ClickHouse to recompute the same queries from scratch after each transaction.
//
// Built by bench/harness.py (stage micro / views) against the build's static libraries:
//   g++ -O2 -std=c++20 -Isrc bench/micro/view_bench.cpp build/src/{sql,state,event,common}/lib*.a
//     -lbenchmark -lpg_query -lsimdjson -lrocksdb -lspdlog -lfmt -lpthread -o /tmp/view_bench
// (bench/run --stages views,micro does that and runs it.)
// The persisted variants keep the join/aggregate state in RocksDB (ViewStateManager) in a fresh
// directory under $SLUICE_BENCH_STATE_DIR (default: the system temp dir), committing every 100
// transactions, with a 16 MiB cache budget (state several times the cache: evictions, loads) and
// with the default transform.memory.max.bytes, 256 MiB (the working set fits).

#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/log.h"
#include "sql/operators.h"
#include "sql/plan.h"
#include "sql/view_state.h"
#include "state/state_store.h"

namespace {

using namespace sluice;
using sluice::sql::Catalog;
using sluice::sql::CompileViews;
using sluice::sql::ViewDefinition;
using sluice::sql::ViewPipeline;
using sluice::sql::ViewStateManager;

constexpr const char* kDatabase = "bench_views";
constexpr int kTxnChanges = 100;
constexpr int kCommitEveryTxns = 100;
constexpr size_t kBudgetBytes = 16u << 20;         ///< the state several times the cache
constexpr size_t kDefaultBudgetBytes = 256u << 20; ///< transform.memory.max.bytes' default
constexpr size_t kPreloadChunkRows = 1024;

double g_scale = 1.0;
// Sluice's log on stderr before anything logs: RocksDB's warnings (write stalls under load) are
// routed to it, and spdlog's default logger would print them into the JSON on stdout.
const bool g_logging = (sluice::InitLogging("warn"), true);
double g_time_cap_s = 20.0;  // per iteration; a pathologically slow variant stops early (and says so)

int Scaled(int n) { return std::max(1, static_cast<int>(n * g_scale)); }

struct ViewSpec {
  const char* name;
  const char* sql;  // the SELECT; valid in PostgreSQL (sluice), MariaDB
};

const ViewSpec kViews[] = {
    {"filter_project",
     "SELECT id, customer_id, amount, amount * 3 AS amount_x3, customer_id % 100 AS shard, "
     "CASE WHEN amount >= 500 THEN 'large' WHEN amount >= 100 THEN 'medium' ELSE 'small' END AS size_class, "
     "created FROM orders WHERE status <> 'cancelled' AND amount >= 10"},
    {"two_way_join",
     "SELECT o.id, o.amount, o.status, o.created, c.id AS cust_id, c.name, c.region "
     "FROM orders o JOIN customers c ON o.customer_id = c.id"},
    {"group_by",
     "SELECT customer_id, count(*) AS orders, sum(amount) AS total, avg(amount) AS avg_amount, "
     "min(amount) AS min_amount, max(amount) AS max_amount FROM orders GROUP BY customer_id"},
    {"join_group_by",
     "SELECT c.region, o.status, count(*) AS orders, sum(o.amount) AS total, avg(o.amount) AS avg_amount, "
     "min(o.amount) AS min_amount, max(o.amount) AS max_amount "
     "FROM orders o JOIN customers c ON o.customer_id = c.id GROUP BY c.region, o.status"},
};

const char* const kStatus[] = {"pending", "paid", "shipped", "delivered", "cancelled"};
const char* const kRegions[] = {"north", "south", "east", "west", "central", "islands", "mountains", "coast"};

struct Order {
  int64_t id = 0, customer_id = 0, cents = 0;
  int status = 0;
  int64_t created = 0;  // days since 1970-01-01
};
struct Customer {
  int64_t id = 0;
  int name_version = 0;
  int region = 0;
};

/// One change of the changelog: the after image (insert, update) or the before image (delete);
/// an update also carries its before image.
struct Change {
  bool orders = true;
  char op = 'I';  // I, U, D
  Order o, o_before;
  Customer c, c_before;
};

struct Changelog {
  std::vector<Order> preload_orders;
  std::vector<Customer> preload_customers;
  std::vector<std::vector<Change>> txns;
  size_t changes = 0;
};

std::string CustomerName(const Customer& c) { return fmt::format("customer-{}-v{}", c.id, c.name_version); }
std::string Cents(int64_t c) { return fmt::format("{}.{:02}", c / 100, c % 100); }

std::string DateText(int64_t days) {  // civil_from_days (H. Hinnant)
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return fmt::format("{:04}-{:02}-{:02}", yoe + era * 400 + (m <= 2), m, d);
}

/// Generates the changelog (see the top of the file). Deterministic: mt19937_64 and modulo only.
Changelog Generate() {
  Changelog log;
  std::mt19937_64 rng(42);
  auto unit = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  std::vector<Order> orders;  // live, roughly in insertion order (deletes swap the last row in)
  std::vector<Customer> customers;
  int64_t next_order = 1, next_customer = 1, day = 19000;
  auto new_customer = [&] {
    Customer c;
    c.id = next_customer++;
    c.region = static_cast<int>(rng() % 8);
    return c;
  };
  auto new_order = [&] {
    Order o;
    o.id = next_order++;
    o.customer_id = customers.empty() ? 1 : customers[static_cast<size_t>(customers.size() * unit() * unit())].id;
    o.cents = static_cast<int64_t>(rng() % 100000);
    o.status = 0;
    o.created = day;
    return o;
  };
  for (int i = 0; i < Scaled(5000); ++i) customers.push_back(new_customer());
  for (int i = 0; i < Scaled(50000); ++i) {
    if (i % 250 == 0) ++day;
    orders.push_back(new_order());
  }
  log.preload_orders = orders;
  log.preload_customers = customers;
  const int total = Scaled(100000);
  std::vector<Change> txn;
  int run_left = 0;
  bool run_orders = true;
  for (int n = 0; n < total; ++n) {
    if (n % 2000 == 0) ++day;
    if (run_left == 0) {
      run_orders = rng() % 10 != 0;
      run_left = 1 + static_cast<int>(rng() % 20);
    }
    --run_left;
    Change ch;
    ch.orders = run_orders;
    const unsigned p = static_cast<unsigned>(rng() % 10);
    if (run_orders) {
      if (p < 6 || orders.empty()) {
        ch.op = 'I';
        ch.o = new_order();
        orders.push_back(ch.o);
      } else if (p < 9) {
        const size_t k = rng() % 2 == 0 ? orders.size() - 1 - static_cast<size_t>(rng() % std::min<size_t>(orders.size(), 2000))
                                        : static_cast<size_t>(rng() % orders.size());
        Order& o = orders[k];
        ch.op = 'U';
        ch.o_before = o;
        if (o.status == 0) {
          o.status = rng() % 10 == 0 ? 4 : 1;
        } else if (o.status < 3) {
          ++o.status;
        }
        if (rng() % 10 < 3) o.cents = static_cast<int64_t>(rng() % 100000);
        if (rng() % 20 == 0 && !customers.empty()) {
          o.customer_id = customers[static_cast<size_t>(customers.size() * unit() * unit())].id;
        }
        if (o.status == ch.o_before.status && o.cents == ch.o_before.cents && o.customer_id == ch.o_before.customer_id) {
          o.cents = (o.cents + 1 + static_cast<int64_t>(rng() % 99999)) % 100000;  // MySQL logs no unchanged rows
        }
        ch.o = o;
      } else {
        const size_t k = static_cast<size_t>(rng() % orders.size());
        ch.op = 'D';
        ch.o = orders[k];
        orders[k] = orders.back();
        orders.pop_back();
      }
    } else {
      if (p < 6 || customers.empty()) {
        ch.op = 'I';
        ch.c = new_customer();
        customers.push_back(ch.c);
      } else if (p < 9) {
        Customer& c = customers[static_cast<size_t>(rng() % customers.size())];
        ch.op = 'U';
        ch.c_before = c;
        if (rng() % 2 == 0) {
          ++c.name_version;
        } else {
          c.region = static_cast<int>((c.region + 1 + rng() % 7) % 8);
        }
        ch.c = c;
      } else {
        const size_t k = static_cast<size_t>(rng() % customers.size());
        ch.op = 'D';
        ch.c = customers[k];
        customers[k] = customers.back();
        customers.pop_back();
      }
    }
    txn.push_back(ch);
    if (static_cast<int>(txn.size()) == kTxnChanges) {
      log.txns.push_back(std::move(txn));
      txn.clear();
    }
  }
  if (!txn.empty()) log.txns.push_back(std::move(txn));
  log.changes = static_cast<size_t>(total);
  return log;
}

TableSchemaPtr OrdersSchema() {
  auto t = std::make_shared<TableSchema>();
  t->database = kDatabase;
  t->table = "orders";
  auto add = [&](const char* name, ValueKind kind, const char* type, bool nullable) -> ColumnSchema& {
    ColumnSchema c;
    c.name = name;
    c.kind = kind;
    c.column_type = type;
    c.nullable = nullable;
    t->columns.push_back(c);
    return t->columns.back();
  };
  add("id", ValueKind::kInt, "bigint(20)", false);
  add("customer_id", ValueKind::kInt, "bigint(20)", false);
  ColumnSchema& amount = add("amount", ValueKind::kDecimal, "decimal(12,2)", false);
  amount.precision = 12;
  amount.scale = 2;
  add("status", ValueKind::kString, "varchar(16)", false).length = 16;
  add("created", ValueKind::kDate, "date", false);
  t->primary_key = {0};
  return t;
}

TableSchemaPtr CustomersSchema() {
  auto t = std::make_shared<TableSchema>();
  t->database = kDatabase;
  t->table = "customers";
  auto add = [&](const char* name, ValueKind kind, const char* type) {
    ColumnSchema c;
    c.name = name;
    c.kind = kind;
    c.column_type = type;
    c.nullable = false;
    t->columns.push_back(c);
  };
  add("id", ValueKind::kInt, "bigint(20)");
  add("name", ValueKind::kString, "varchar(64)");
  add("region", ValueKind::kString, "varchar(16)");
  t->primary_key = {0};
  return t;
}

/// The changelog as the chunks the capture would hand to the views.
struct Chunks {
  struct Piece {
    bool orders;
    ChangeChunk chunk;
  };
  std::vector<Piece> preload;
  std::vector<std::vector<Piece>> txns;
  size_t changes = 0;
};

void AppendOrder(ChangeChunk& c, RowOp op, uint64_t version, const Order& o) {
  c.BeginRow(op, version, 0, 0);
  c.column(0).AppendInt(o.id);
  c.column(1).AppendInt(o.customer_id);
  c.column(2).AppendBytes(Cents(o.cents));
  c.column(3).AppendBytes(kStatus[o.status]);
  c.column(4).AppendInt(o.created);
}

void AppendCustomer(ChangeChunk& c, RowOp op, uint64_t version, const Customer& x) {
  c.BeginRow(op, version, 0, 0);
  c.column(0).AppendInt(x.id);
  c.column(1).AppendBytes(CustomerName(x));
  c.column(2).AppendBytes(kRegions[x.region]);
}

struct Fixture {
  TableSchemaPtr orders = OrdersSchema();
  TableSchemaPtr customers = CustomersSchema();
  Chunks chunks;
  Changelog log;
};

ChangeChunk NewChunk(const TableSchemaPtr& t) {
  ChangeChunk c(t);
  SourceInfo s;
  s.file = "mysql-bin.000001";
  s.server_id = 1;
  c.AddSource(s);
  return c;
}

const Fixture& GetFixture() {
  static const Fixture* f = [] {
    auto* fx = new Fixture;
    fx->log = Generate();
    uint64_t version = 0;
    ChangeChunk c = NewChunk(fx->customers);
    for (const Customer& x : fx->log.preload_customers) {
      AppendCustomer(c, RowOp::kInsert, ++version, x);
      if (c.size() >= kPreloadChunkRows) {
        fx->chunks.preload.push_back({false, std::move(c)});
        c = NewChunk(fx->customers);
      }
    }
    if (!c.empty()) fx->chunks.preload.push_back({false, std::move(c)});
    c = NewChunk(fx->orders);
    for (const Order& o : fx->log.preload_orders) {
      AppendOrder(c, RowOp::kInsert, ++version, o);
      if (c.size() >= kPreloadChunkRows) {
        fx->chunks.preload.push_back({true, std::move(c)});
        c = NewChunk(fx->orders);
      }
    }
    if (!c.empty()) fx->chunks.preload.push_back({true, std::move(c)});
    for (const auto& txn : fx->log.txns) {
      std::vector<Chunks::Piece> pieces;
      for (const Change& ch : txn) {
        if (pieces.empty() || pieces.back().orders != ch.orders) {
          pieces.push_back({ch.orders, NewChunk(ch.orders ? fx->orders : fx->customers)});
        }
        ChangeChunk& cc = pieces.back().chunk;
        const uint64_t v = ++version;
        if (ch.orders) {
          if (ch.op == 'U') {
            AppendOrder(cc, RowOp::kUpdateBefore, v, ch.o_before);
            AppendOrder(cc, RowOp::kUpdateAfter, v, ch.o);
          } else {
            AppendOrder(cc, ch.op == 'I' ? RowOp::kInsert : RowOp::kDelete, v, ch.o);
          }
        } else {
          if (ch.op == 'U') {
            AppendCustomer(cc, RowOp::kUpdateBefore, v, ch.c_before);
            AppendCustomer(cc, RowOp::kUpdateAfter, v, ch.c);
          } else {
            AppendCustomer(cc, ch.op == 'I' ? RowOp::kInsert : RowOp::kDelete, v, ch.c);
          }
        }
      }
      fx->chunks.txns.push_back(std::move(pieces));
    }
    fx->chunks.changes = fx->log.changes;
    return fx;
  }();
  return *f;
}

ViewDefinition Compile(const Fixture& fx, const ViewSpec& spec) {
  Catalog catalog(kDatabase);
  catalog.AddTable(fx.orders);
  catalog.AddTable(fx.customers);
  auto defs = CompileViews("view_bench.sql", fmt::format("CREATE MATERIALIZED VIEW {} AS {}", spec.name, spec.sql),
                           catalog);
  return defs.at(0);
}

/// A fresh pipeline (and, when persisted, a fresh RocksDB state directory and manager).
struct Instance {
  std::string dir;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ViewStateManager> manager;
  std::unique_ptr<ViewPipeline> pipeline;
  bool reads_orders = false, reads_customers = false;

  Instance(const ViewDefinition& def, size_t budget) {
    if (budget > 0) {
      const char* base = std::getenv("SLUICE_BENCH_STATE_DIR");
      static int seq = 0;
      dir = (std::filesystem::path(base && *base ? base : std::filesystem::temp_directory_path().string()) /
             fmt::format("view-bench-{}-{}", ::getpid(), ++seq))
                .string();
      std::filesystem::remove_all(dir);
      store = StateStore::Open(dir);
      manager = std::make_unique<ViewStateManager>(store.get(), "views/", budget);
      manager->Recover();
    }
    pipeline = std::make_unique<ViewPipeline>(def.plan, def.output, manager.get());
    for (const auto& s : pipeline->Sources()) {
      reads_orders |= s == std::string(kDatabase) + ".orders";
      reads_customers |= s == std::string(kDatabase) + ".customers";
    }
  }
  ~Instance() {
    pipeline.reset();
    manager.reset();
    store.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

const std::string kOrdersSource = std::string(kDatabase) + ".orders";
const std::string kCustomersSource = std::string(kDatabase) + ".customers";

/// Pushes one piece when the view reads its table; returns the output rows.
size_t PushPiece(Instance& in, const Chunks::Piece& p, std::vector<ChangeChunk>& out) {
  if (p.orders ? !in.reads_orders : !in.reads_customers) return 0;
  in.pipeline->Push(p.orders ? kOrdersSource : kCustomersSource, p.chunk, out);
  size_t n = 0;
  for (const auto& c : out) n += c.size();
  out.clear();
  return n;
}

size_t FlushTxn(Instance& in, std::vector<ChangeChunk>& out) {
  in.pipeline->Flush(out);
  size_t n = 0;
  for (const auto& c : out) n += c.size();
  out.clear();
  return n;
}

void BM_View(benchmark::State& state, const ViewSpec* spec, size_t budget) {
  const bool persisted = budget > 0;
  const Fixture& fx = GetFixture();
  const ViewDefinition def = Compile(fx, *spec);
  size_t out_rows = 0;
  ViewStateManager::Stats stats;
  size_t mem_used = 0;
  size_t done_total = 0, done_last = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto in = std::make_unique<Instance>(def, budget);
    std::vector<ChangeChunk> out;
    for (const auto& p : fx.chunks.preload) PushPiece(*in, p, out);
    FlushTxn(*in, out);
    if (in->manager) in->manager->Commit({{"offset", "preload"}});
    state.ResumeTiming();
    size_t rows = 0, txn_no = 0, done = 0;
    const auto start = std::chrono::steady_clock::now();
    for (size_t t = 0; t < fx.chunks.txns.size(); ++t) {
      for (const auto& p : fx.chunks.txns[t]) rows += PushPiece(*in, p, out);
      rows += FlushTxn(*in, out);
      done += fx.log.txns[t].size();
      if (in->manager && ++txn_no % kCommitEveryTxns == 0) in->manager->Commit({{"offset", std::to_string(txn_no)}});
      if (t % 10 == 9 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > g_time_cap_s) {
        break;
      }
    }
    if (in->manager) in->manager->Commit({{"offset", "end"}});
    state.PauseTiming();
    out_rows = rows;
    done_total += done;
    done_last = done;
    if (in->manager) {
      stats = in->manager->stats();
      mem_used = in->manager->MemoryUsed();
    }
    in.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(done_total));
  state.counters["out_rows"] = static_cast<double>(out_rows);
  state.counters["preload_rows"] = static_cast<double>(fx.log.preload_orders.size() + fx.log.preload_customers.size());
  state.counters["changes"] = static_cast<double>(done_last);
  if (persisted) {
    state.counters["evictions"] = static_cast<double>(stats.evictions);
    state.counters["loads"] = static_cast<double>(stats.loads);
    state.counters["compactions"] = static_cast<double>(stats.compactions);
    state.counters["spilled_keys"] = static_cast<double>(stats.spilled_keys);
    state.counters["cache_mib"] = static_cast<double>(mem_used) / (1 << 20);
  }
  state.SetLabel(fmt::format("{}{} changes ({} txns of {}; 60/30/10% I/U/D) after a {}-row preload; {} output rows{}",
                             done_last < fx.chunks.changes
                                 ? fmt::format("STOPPED after {:.0f} s (time cap) at {} of ", g_time_cap_s, done_last)
                                 : "",
                             fx.chunks.changes, fx.chunks.txns.size(), kTxnChanges,
                             fx.log.preload_orders.size() + fx.log.preload_customers.size(), out_rows,
                             persisted ? fmt::format("; RocksDB state, {} MiB cache budget, {} evictions, {} loads",
                                                     budget >> 20, stats.evictions, stats.loads)
                                       : "; in-memory state"));
}

/// Writes the changelog as TSV and the views + sizes as JSON, for the harness's peers.
int Dump(const std::string& path) {
  const Fixture& fx = GetFixture();
  std::ofstream f(path, std::ios::binary);
  auto order = [&](const char* txn, char op, const Order& o) {
    f << txn << "\to\t" << op << '\t' << o.id << '\t' << o.customer_id << '\t' << Cents(o.cents) << '\t'
      << kStatus[o.status] << '\t' << DateText(o.created) << '\n';
  };
  auto customer = [&](const char* txn, char op, const Customer& c) {
    f << txn << "\tc\t" << op << '\t' << c.id << '\t' << CustomerName(c) << '\t' << kRegions[c.region] << '\n';
  };
  for (const auto& c : fx.log.preload_customers) customer("P", 'I', c);
  for (const auto& o : fx.log.preload_orders) order("P", 'I', o);
  for (size_t t = 0; t < fx.log.txns.size(); ++t) {
    const std::string txn = std::to_string(t);
    for (const Change& ch : fx.log.txns[t]) {
      if (ch.orders) {
        order(txn.c_str(), ch.op, ch.o);
      } else {
        customer(txn.c_str(), ch.op, ch.c);
      }
    }
  }
  f.close();
  std::ofstream j(path + ".json");
  j << "{\"database\": \"" << kDatabase << "\", \"txn_changes\": " << kTxnChanges
    << ", \"commit_every_txns\": " << kCommitEveryTxns << ", \"budget_mib\": " << (kBudgetBytes >> 20)
    << ", \"preload_orders\": " << fx.log.preload_orders.size()
    << ", \"preload_customers\": " << fx.log.preload_customers.size() << ", \"changes\": " << fx.log.changes
    << ", \"txns\": " << fx.log.txns.size() << ", \"views\": {";
  bool first = true;
  for (const ViewSpec& v : kViews) {
    j << (first ? "" : ", ") << '"' << v.name << "\": \"" << v.sql << '"';
    first = false;
  }
  j << "}}\n";
  return f.good() && j.good() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dump;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--views_dump=", 13) == 0) {
      dump = argv[i] + 13;
    } else if (std::strncmp(argv[i], "--views_scale=", 14) == 0) {
      g_scale = std::atof(argv[i] + 14);
    } else if (std::strncmp(argv[i], "--views_time_cap=", 17) == 0) {
      g_time_cap_s = std::atof(argv[i] + 17);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (!dump.empty()) return Dump(dump);
  for (const ViewSpec& v : kViews) {
    benchmark::RegisterBenchmark(fmt::format("BM_View/{}", v.name).c_str(), BM_View, &v, size_t{0})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  for (const ViewSpec& v : kViews) {
    if (std::strcmp(v.name, "filter_project") == 0) continue;  // stateless: nothing to persist
    benchmark::RegisterBenchmark(fmt::format("BM_View/{}/rocksdb_16MiB", v.name).c_str(), BM_View, &v, kBudgetBytes)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    // The default budget: the same RocksDB state and commits, with a cache the working set fits.
    benchmark::RegisterBenchmark(fmt::format("BM_View/{}/rocksdb_256MiB", v.name).c_str(), BM_View, &v,
                                 kDefaultBudgetBytes)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
