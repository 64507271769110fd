#pragma once
/// The pipeline configuration: one YAML file with sections `source`, `bus`, `sink`, `state`
/// (see README "Configuration reference"). Keys are validated strictly against a declared spec:
/// an unknown key, a wrong type, a bad enum value or a missing required key is an error naming
/// the key, the file and the line, with a "did you mean" suggestion for near misses.
/// `${VAR}` and `${VAR:-default}` in values are read from the environment.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace sluice {

/// Type of a configuration key's value.
enum class ConfigType { kString, kInt, kBool, kList, kEnum, kMap, kPassthrough };

/// Declaration of one accepted key.
struct ConfigKeySpec {
  const char* section;
  const char* key;
  ConfigType type;
  const char* default_value;   ///< nullptr when there is no default
  const char* allowed;         ///< for kEnum: "a|b|c"
  const char* help;
  bool required = false;
};

/// All keys this build accepts (the reference table in README.md is generated from this list).
const std::vector<ConfigKeySpec>& ConfigSpec();

/// One value as written in the file, after environment expansion.
struct ConfigValue {
  std::string scalar;                        ///< scalar text (for kList also the raw text)
  std::vector<std::string> list;             ///< for sequences (or comma-separated scalars)
  std::map<std::string, std::map<std::string, std::string>> map;  ///< for kMap: name -> key -> value
  int line = 0;                              ///< 1-based line in the file
  bool is_sequence = false;
};

/// A problem found while loading; `Config::Load*` throw ConfigError with all of them.
struct ConfigProblem {
  int line = 0;
  std::string message;
};

/// Thrown when the file has one or more problems; what() lists every problem, one per line.
class ConfigError : public Error {
 public:
  ConfigError(std::string file, std::vector<ConfigProblem> problems);
  const std::vector<ConfigProblem>& problems() const { return problems_; }

 private:
  std::vector<ConfigProblem> problems_;
};

/// A loaded, validated configuration. Immutable after load; safe to share between threads.
class Config {
 public:
  /// Loads and validates `path`. Throws ConfigError listing every problem. `source_connection`
  /// false: the command does not connect to the source database, so `source` and its connection
  /// keys are optional (`sluice sink`).
  static Config LoadFile(const std::string& path, bool source_connection = true);
  /// Loads YAML text; `name` is used in messages and relative paths resolve against `base_dir`.
  static Config LoadString(const std::string& yaml, const std::string& name,
                           const std::string& base_dir = ".", bool source_connection = true);

  const std::string& file() const { return file_; }
  bool Has(std::string_view section, std::string_view key) const;
  /// Returns the value, or the spec's default, or "" when neither exists.
  std::string GetString(std::string_view section, std::string_view key) const;
  int64_t GetInt(std::string_view section, std::string_view key) const;
  bool GetBool(std::string_view section, std::string_view key) const;
  std::vector<std::string> GetList(std::string_view section, std::string_view key) const;
  const std::map<std::string, std::map<std::string, std::string>>& GetMap(
      std::string_view section, std::string_view key) const;
  /// Resolves a path value relative to the config file's directory.
  std::string GetPath(std::string_view section, std::string_view key) const;
  /// "file:line" of a key, for messages about values that were syntactically fine.
  std::string Where(std::string_view section, std::string_view key) const;
  /// Keys of a passthrough section entry (e.g. librdkafka properties under `bus`), as written.
  std::vector<std::pair<std::string, std::string>> Entries(std::string_view section) const;
  bool HasSection(std::string_view section) const { return sections_.count(std::string(section)) > 0; }
  /// Keys that were accepted but have no effect (e.g. Kafka Connect's connector.class).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  const ConfigValue* Find(std::string_view section, std::string_view key) const;
  std::string file_;
  std::string base_dir_;
  std::map<std::string, std::map<std::string, ConfigValue>> sections_;
  std::vector<std::string> warnings_;
};

/// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

/// Expands `${VAR}` / `${VAR:-default}` from the environment; `$$` is a literal `$`.
/// Returns std::nullopt and sets `missing` when a variable without default is unset.
std::optional<std::string> ExpandEnv(std::string_view text, std::string* missing);

}  // namespace sluice
