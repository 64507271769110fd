#pragma once
/// Kill points for the fault tests: a named place in the code where the process can be made to
/// die with SIGKILL, exactly as `kill -9` would at that line (RocksDB's TEST_KILL_RANDOM, Redpanda's
/// failure injection). Off unless the environment says otherwise, and then only a relaxed atomic
/// load per point:
///
///   SLUICE_CRASH_AT=checkpoint.before_offset_write        die at the first hit
///   SLUICE_CRASH_AT=view_state.after_spill:3              die at the third hit
///
/// The points (grep SLUICE_CRASH_POINT) are listed in docs/OPERATIONS.md with what each tests.

#include <atomic>

namespace sluice {

namespace internal {
extern std::atomic<bool> g_crash_points_enabled;
void CrashPointHit(const char* name);
}  // namespace internal

/// Dies with SIGKILL when `name` is the configured point and this is its configured hit.
inline void CrashPoint(const char* name) {
  if (internal::g_crash_points_enabled.load(std::memory_order_relaxed)) internal::CrashPointHit(name);
}

}  // namespace sluice

#define SLUICE_CRASH_POINT(name) ::sluice::CrashPoint(name)
