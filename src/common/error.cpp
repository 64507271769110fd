#include "common/error.h"

namespace sluice {

void CheckFailed(const char* file, int line, const char* cond, const std::string& msg) {
  throw Error(ErrorKind::kInternal,
              fmt::format("internal error at {}:{}: check `{}` failed: {} (this is a bug in sluice; "
                          "please report it with the log)",
                          file, line, cond, msg));
}

}  // namespace sluice
