// libFuzzer target: the binlog event decoder and the row decoder (mysql::DecodeAnyEvent). Any
// input must either decode or throw sluice::Error — never crash, hang or read out of bounds.
// Input: a binlog file image ("\xfebin" + events) or back-to-back raw events. The first byte's
// low bit chooses whether CRC32 trailers are verified (off: mutated events reach the parsers).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "mysql/binlog_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sluice::mysql::BinlogDecoder::Options options;
  options.verify_checksum = size > 0 && (data[0] & 1) == 0;
  try {
    sluice::mysql::DecodeAnyEvent(bytes, options);
  } catch (const sluice::Error&) {
  }
  if (!options.verify_checksum) {
    try {
      sluice::mysql::DecodeAnyEvent(bytes);  // and as the capture reads it
    } catch (const sluice::Error&) {
    }
  }
  return 0;
}
