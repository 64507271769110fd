#pragma once
/// Incremental operators over ChangeChunks (DuckDB PhysicalOperator / Velox Operator style): each
/// consumes chunks of row changes (kInsert, kDelete, kUpdateBefore+kUpdateAfter pairs) on its
/// inputs and produces the exact change of its output. Stateful operators keep their state in an
/// explicit object (AggregateState, JoinState) so a RocksDB-backed store can replace it. A
/// ViewPipeline wires the operators of one view's plan together. See AddOperatorChecklist.md.
/// With a ViewStateManager (sql/view_state.h) the join and aggregate state lives in RocksDB behind
/// a bounded cache instead of in memory.

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sql/plan.h"

namespace sluice::sql {

class ViewStateManager;
class PersistedAggregateState;
class PersistedJoinState;

/// One incremental operator. Owned by its ViewPipeline; single-threaded.
class Operator {
 public:
  virtual ~Operator() = default;
  /// Consumes `chunk` arriving on input `input` (0 = left/only, 1 = right) and appends the
  /// resulting output changes to `out`.
  virtual void Push(int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) = 0;
  /// Emits changes held back until a barrier (the end of a source transaction).
  virtual void Flush(std::vector<ChangeChunk>& out) { (void)out; }
  /// Serializes the operator's state; call at a barrier, after Flush. Stateless operators: "".
  virtual std::string SnapshotState() const { return {}; }
  /// Replaces the state with one from SnapshotState of an operator built from the same plan.
  virtual void RestoreState(std::string_view bytes) { (void)bytes; }
  /// Moves the operator's state into `manager` under view `view`, operator index `index` (loading
  /// what a previous run committed). Call once, right after construction. Stateless: no-op.
  virtual void AttachState(ViewStateManager* manager, const std::string& view, int index) {
    (void)manager, (void)view, (void)index;
  }
  /// Schema of the chunks this operator emits.
  const TableSchemaPtr& output_schema() const { return schema_; }
  const std::vector<SqlType>& output_types() const { return types_; }
  /// Tags the chunks this operator emits with `schema` (same columns), e.g. the view's table.
  void SetOutputSchema(TableSchemaPtr schema);

 protected:
  Operator(const PlanNode& node);
  TableSchemaPtr schema_;
  std::vector<SqlType> types_;
};

/// Reads row `row` of `chunk` with the given column types.
Row ReadRow(const ChangeChunk& chunk, size_t row, const std::vector<SqlType>& types);

/// Builds one output chunk row by row.
class ChunkBuilder {
 public:
  ChunkBuilder(TableSchemaPtr schema, const std::vector<SqlType>& types);
  void Add(RowOp op, uint64_t version, const Row& row);
  /// Adds the row whose columns are `a` then `b` (a null part: NULLs; the parts' sizes together
  /// with `extra` make the row), then `extra` when not null — a join's output row without building it.
  void AddJoined(RowOp op, uint64_t version, const Row* a, size_t a_size, const Row* b, const Value* extra);
  bool empty() const { return chunk_.empty(); }
  /// Moves the chunk built so far into `out` (when not empty) and starts a new one.
  void FlushTo(std::vector<ChangeChunk>& out);

 private:
  TableSchemaPtr schema_;
  const std::vector<SqlType>& types_;
  ChangeChunk chunk_;
};

/// Keeps rows whose predicate is true; turns an update pair that crosses the predicate into a
/// kDelete or kInsert. Stateless.
class FilterOperator final : public Operator {
 public:
  explicit FilterOperator(const PlanNode& node);
  void Push(int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) override;

 private:
  ExprPtr predicate_;
  std::vector<SqlType> in_types_;
};

/// Evaluates the select list; ops pass through. Stateless.
class ProjectOperator final : public Operator {
 public:
  explicit ProjectOperator(const PlanNode& node);
  void Push(int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) override;

 private:
  std::vector<ExprPtr> exprs_;
  std::vector<SqlType> in_types_;
};

/// Passes both inputs through unchanged. Stateless.
class UnionAllOperator final : public Operator {
 public:
  explicit UnionAllOperator(const PlanNode& node);
  void Push(int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) override;
};

/// Running state of one aggregate call in one group; supports retraction. min/max and DISTINCT
/// keep the multiset of argument values.
struct AggAccumulator {
  int64_t count = 0;   ///< rows (count(*)) or non-null arguments
  Int128 sum = 0;      ///< bigint/numeric sums (scaled)
  double dsum = 0;     ///< double sums
  std::map<Value, int64_t, ValueLess> values;  ///< min/max/DISTINCT: value -> multiplicity
};

/// One group: its key, row count, accumulators and the row last emitted for it.
struct GroupState {
  Row key;
  int64_t rows = 0;
  std::vector<AggAccumulator> acc;
  bool emitted = false;
  Row last;
  uint64_t version = 0;
  bool dirty = false;
};

/// All groups of one aggregate, keyed by the encoded group key (NULLs group together).
struct AggregateState {
  std::unordered_map<std::string, GroupState> groups;
  std::vector<std::string> dirty;  ///< groups changed since the last Flush, in first-change order
};

/// Adds (sign +1) or retracts (sign -1) `v` into `acc`.
void AccumulateAgg(AggAccumulator& acc, const AggCall& call, const Value& v, int sign);
/// The aggregate's current value.
Value FinalizeAgg(const AggAccumulator& acc, const AggCall& call);
/// For each aggregate, the index of the aggregate whose accumulator holds its values: aggregates
/// keeping a multiset (min, max, DISTINCT) over the same argument and FILTER share the first one's
/// (its `values`; min/max/DISTINCT results read nothing else), so e.g. min(x) and max(x) keep x once.
std::vector<size_t> SharedMultisets(const std::vector<AggCall>& aggs);

/// GROUP BY with count/sum/avg/min/max (and DISTINCT). Emits at Flush, per changed group:
/// kInsert for a new group, kDelete for a vanished one, a kUpdateBefore/kUpdateAfter pair for a
/// changed one. A global aggregate (no GROUP BY) always has exactly one row.
class AggregateOperator final : public Operator {
 public:
  explicit AggregateOperator(const PlanNode& node);
  ~AggregateOperator() override;
  void Push(int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) override;
  void Flush(std::vector<ChangeChunk>& out) override;
  std::string SnapshotState() const override;
  void RestoreState(std::string_view bytes) override;
  void AttachState(ViewStateManager* manager, const std::string& view, int index) override;
  /// The in-memory state (empty when the state is attached to a ViewStateManager).
  const AggregateState& state() const { return state_; }

 private:
  GroupState& Group(const std::string& key, Row key_values);
  void PushPersisted(const ChangeChunk& chunk);
  void FlushPersisted(std::vector<ChangeChunk>& out);
  std::vector<ExprPtr> keys_;
  std::vector<AggCall> aggs_;
  std::vector<SqlType> in_types_;
  std::vector<SqlType> key_types_;
  bool global_;
  std::vector<size_t> values_of_;  ///< SharedMultisets(aggs_)
  AggregateState state_;  ///< in memory (empty with a manager)
  std::unique_ptr<PersistedAggregateState> pstate_;
};

/// The rows of one side with one join key, as a multiset (encoded row -> row, multiplicity), so a
/// delete is O(1) however many rows share the key.
struct JoinBucket {
  std::unordered_map<std::string, std::pair<Row, int64_t>> rows;
  int64_t size = 0;  ///< rows counted with multiplicity
};

/// Both sides of a join, each indexed by the encoded join key. Rows with a NULL key are not kept.
struct JoinState {
  std::unordered_map<std::string, JoinBucket> index[2];
};

/// Equi-join (inner, left, right, full outer). Each input row is matched against the other side's
/// index and stored in its own; outer sides emit NULL-padded rows while they have no match and
/// retract them when the first match arrives. Output ops are kInsert/kDelete (a row that gains or
/// loses its match is deleted and inserted again: with `_side` its key changes).
class JoinOperator final : public Operator {
 public:
  explicit JoinOperator(const PlanNode& node);
  ~JoinOperator() override;
  void Push(int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out) override;
  std::string SnapshotState() const override;
  void RestoreState(std::string_view bytes) override;
  void AttachState(ViewStateManager* manager, const std::string& view, int index) override;
  /// The in-memory state (empty when the state is attached to a ViewStateManager).
  const JoinState& state() const { return state_; }

 private:
  template <typename Store>
  void PushRows(Store& store, int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out);
  std::vector<ExprPtr> keys_[2];
  std::vector<SqlType> in_types_[2];
  std::vector<SqlType> key_types_;
  bool outer_[2];
  bool side_column_ = false;  ///< PlanNode::side_column: append `_side` (1 left, 2 right, 3 both)
  JoinState state_;
  std::unique_ptr<PersistedJoinState> pstate_;
};

/// The operators of one view, wired as its plan's tree. Not thread-safe.
class ViewPipeline {
 public:
  /// Builds the operators of `plan`. Output chunks carry `output` as their schema when given
  /// (ViewDefinition::output: the view's name, columns and key), else an unnamed one. With
  /// `state` (which must outlive the pipeline; `output` is then required, its table names the
  /// view), join/aggregate state is kept in `state`'s store, keyed by the view name and operator
  /// index, and loaded from its last Commit; without, everything stays in memory.
  explicit ViewPipeline(PlanPtr plan, TableSchemaPtr output = nullptr, ViewStateManager* state = nullptr);
  /// Source names (tables "db.table", views by name) this view reads.
  std::vector<std::string> Sources() const;
  /// Pushes a chunk of changes of `source`; appends the view's output changes to `out`. Throws
  /// Error(kSql) when the chunk's columns are not those the view was bound to (the source table
  /// changed: the view must be re-created).
  void Push(std::string_view source, const ChangeChunk& chunk, std::vector<ChangeChunk>& out);
  /// Flushes every operator (children first) at a transaction boundary.
  void Flush(std::vector<ChangeChunk>& out);
  /// Serializes the state of every operator (at a barrier, after Flush). In-memory mode only.
  std::string Snapshot() const;
  /// Restores a Snapshot of a pipeline built from the same plan. Throws Error(kState) when the
  /// bytes do not fit the plan.
  void Restore(std::string_view bytes);
  const TableSchemaPtr& output_schema() const { return nodes_[0].op->output_schema(); }
  const std::vector<SqlType>& output_types() const { return nodes_[0].op->output_types(); }

 private:
  struct Node {
    std::unique_ptr<Operator> op;
    int parent = -1;
    int parent_input = 0;
  };
  int Build(const PlanPtr& plan, int parent, int parent_input);
  void Deliver(int node, int input, const ChangeChunk& chunk, std::vector<ChangeChunk>& out);
  std::vector<Node> nodes_;
  struct Scan {
    std::string source;
    int node = 0;
    int input = 0;
    PlanPtr plan;                        ///< the scan node: the columns the view was bound to
    const TableSchema* checked = nullptr;  ///< last chunk schema found to match
  };
  void CheckSchema(Scan& scan, const ChangeChunk& chunk);
  std::vector<Scan> scans_;
};

/// Makes the TableSchema of a plan node's output (database "", table `name`).
TableSchemaPtr MakeSchema(const std::string& name, const PlanNode& node);

}  // namespace sluice::sql
