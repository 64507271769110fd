#pragma once
/// The in-memory schema catalog: database.table -> immutable TableSchema snapshot, plus the
/// default charsets (server, database, table) that columns without their own charset take.
/// DDL changes from mysql/ddl_parser.h are applied to it; every change of a table makes a new
/// snapshot with version + 1, so row batches holding the old TableSchemaPtr stay valid.
/// Database and table names are case-sensitive (Linux, lower_case_table_names=0); column names
/// are case-insensitive, as in MySQL. Serializes to a compact JSON text for the state store.
/// Not thread-safe: owned by the capture thread (mysql/schema_history.h).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/change.h"
#include "mysql/ddl_parser.h"

namespace sluice::mysql {

/// What applying one DDL did.
struct CatalogUpdate {
  enum class Status : uint8_t {
    kNoop,          ///< nothing changed (ignored statement, IF [NOT] EXISTS, TRUNCATE, table options)
    kApplied,       ///< `changes` lists every table created, changed, renamed or dropped
    kUnknownTable,  ///< the DDL targets a table the catalog does not hold; see `reread`
    kNeedsReread,   ///< the DDL could not be applied: re-read the tables in `reread` (see `message`)
  };
  Status status = Status::kNoop;
  /// (before, after) per table: null before = created, null after = dropped; a rename is one
  /// pair whose after has the new name.
  std::vector<std::pair<TableSchemaPtr, TableSchemaPtr>> changes;
  /// Tables to read from information_schema (existing after the DDL) for the catalog to be right.
  std::vector<QualifiedName> reread;
  std::string message;  ///< why, for kNoop/kUnknownTable/kNeedsReread (for a warning)
};

/// Returns "Noop", "Applied", "UnknownTable" or "NeedsReread".
const char* CatalogStatusName(CatalogUpdate::Status status);

class SchemaCatalog {
 public:
  /// Sets the server's default charset (character_set_server), used for databases without one.
  void SetServerCharset(std::string_view charset);
  const std::string& server_charset() const { return server_charset_; }
  /// Sets the default charset of a database (information_schema.SCHEMATA), used by new tables.
  void SetDatabaseCharset(const std::string& database, std::string_view charset);
  /// Returns the database's charset, else the server's ("" when neither is known).
  std::string DatabaseCharset(const std::string& database) const;
  /// Returns the table's default charset (for columns added without one), else the database's.
  std::string TableCharset(const std::string& database, const std::string& table) const;

  /// Adds or replaces a table (e.g. read from information_schema). `table_charset` is the table's
  /// default charset ("" = the database's). The stored version is max(schema.version,
  /// previous version + 1) and at least 1. Returns the stored snapshot.
  TableSchemaPtr Put(const TableSchema& schema, std::string_view table_charset = "");
  TableSchemaPtr Put(const TableSchemaPtr& schema, std::string_view table_charset = "") {
    return Put(*schema, table_charset);
  }
  TableSchemaPtr Get(std::string_view database, std::string_view table) const;
  /// Removes a table; returns false when it was not there.
  bool Remove(std::string_view database, std::string_view table);
  /// Returns every table, ordered by (database, table).
  std::vector<TableSchemaPtr> List() const;
  size_t size() const { return tables_.size(); }

  /// Applies one parsed DDL change. On kNeedsReread/kUnknownTable the catalog is unchanged for
  /// the tables named in `reread`. Never throws for SQL-level problems.
  CatalogUpdate Apply(const DdlChange& change);
  /// Applies the changes of one statement in order, merging their updates (the most severe
  /// status wins; changes and rereads are concatenated).
  CatalogUpdate Apply(const std::vector<DdlChange>& changes);

  /// Returns the whole catalog (tables, charsets, versions) as compact JSON text. Names are
  /// written as their bytes (the text is not guaranteed to be UTF-8 when names are not).
  std::string Serialize() const;
  /// Rebuilds a catalog from Serialize() output. Throws Error(kState) on malformed text.
  static SchemaCatalog Deserialize(std::string_view text);

 private:
  struct Entry {
    TableSchemaPtr schema;
    std::string charset;  ///< table default charset, "" = the database's
  };
  using Key = std::pair<std::string, std::string>;

  uint64_t NextVersion(const Key& key) const;
  void Store(const Key& key, TableSchemaPtr schema, std::string charset);
  CatalogUpdate ApplyCreate(const DdlChange& change);
  CatalogUpdate ApplyCreateLike(const DdlChange& change);
  CatalogUpdate ApplyAlter(const DdlChange& change);
  CatalogUpdate ApplyRename(const DdlChange& change);
  CatalogUpdate ApplyDropDatabase(const DdlChange& change);

  std::string server_charset_;
  std::map<std::string, std::string> database_charsets_;
  std::map<Key, Entry> tables_;
  std::map<Key, uint64_t> last_versions_;  ///< last version of every name ever stored (survives DROP)
};

}  // namespace sluice::mysql
