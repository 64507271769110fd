#include "common/crash_point.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace sluice {
namespace internal {
namespace {

struct CrashConfig {
  std::string name;
  long hit = 1;
  long seen = 0;
  std::mutex mu;

  CrashConfig() {
    const char* v = std::getenv("SLUICE_CRASH_AT");
    if (v == nullptr || *v == '\0') return;
    name = v;
    const auto colon = name.rfind(':');
    if (colon != std::string::npos) {
      hit = std::strtol(name.c_str() + colon + 1, nullptr, 10);
      if (hit < 1) hit = 1;
      name.resize(colon);
    }
    g_crash_points_enabled.store(true);
  }
};

CrashConfig& Config() {
  static CrashConfig c;
  return c;
}

// Reads the environment before main, so the first CrashPoint() call already sees it enabled.
const bool kInit = (Config(), true);

}  // namespace

std::atomic<bool> g_crash_points_enabled{false};

void CrashPointHit(const char* name) {
  CrashConfig& c = Config();
  if (c.name != name) return;
  std::lock_guard<std::mutex> lock(c.mu);
  if (++c.seen < c.hit) return;
  std::fprintf(stderr, "crash point %s (hit %ld): SIGKILL\n", name, c.seen);
  std::fflush(stderr);
  std::raise(SIGKILL);
}

}  // namespace internal
}  // namespace sluice
