// libFuzzer target: the Debezium JSON reader of `sluice sink` (sluice::DebeziumDecoder) and the
// `sluice.schema` header parser. Any record must either decode or throw sluice::Error.
// Input: "<schema header>\n<value>" or just "<value>".

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/error.h"
#include "event/debezium_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::optional<std::string_view> header;
  std::string_view value = in;
  const size_t nl = in.find('\n');
  if (nl != std::string_view::npos) {
    header = in.substr(0, nl);
    value = in.substr(nl + 1);
  }
  sluice::DebeziumDecoderOptions options;
  options.file_sequence = [](std::string_view) { return 1u; };
  sluice::DebeziumDecoder decoder(options);
  try {
    decoder.Decode("fuzz.db.t", std::nullopt, value, header);
  } catch (const sluice::Error&) {
  }
  try {
    decoder.Decode("fuzz.db.t", value, value, std::nullopt);
  } catch (const sluice::Error&) {
  }
  if (header) {
    try {
      sluice::DecodeSchemaHeader(*header);
    } catch (const sluice::Error&) {
    }
  }
  decoder.TakeChunks();
  return 0;
}
