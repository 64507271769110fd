#include "common/allocator.h"

#include <malloc.h>

namespace sluice {

void TuneAllocator() {
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(kAllocatorKeepBytes));
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kAllocatorMmapBytes));
}

}  // namespace sluice
