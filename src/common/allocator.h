#pragma once
/// Process-wide malloc settings (glibc).

#include <cstddef>

namespace sluice {

/// Freed heap memory glibc keeps for reuse instead of returning it to the kernel (M_TRIM_THRESHOLD).
inline constexpr size_t kAllocatorKeepBytes = size_t{32} << 20;
/// Allocations from this size on get their own mmap (M_MMAP_THRESHOLD); below it they come from
/// the heap.
inline constexpr size_t kAllocatorMmapBytes = size_t{16} << 20;

/// Sets the two thresholds above. glibc's defaults (128 KiB, raised dynamically) make the
/// capture's column chunks — a few MiB each, allocated and freed at every transaction — go back
/// to the kernel and fault in again page by page: a streamed decode of wide rows spent a third of
/// its CPU in page faults (18k faults; 3.7k with these settings). The cost is at most
/// kAllocatorKeepBytes of freed memory held per arena. Call once at start, before threads.
void TuneAllocator();

}  // namespace sluice
