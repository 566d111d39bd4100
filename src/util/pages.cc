#include "util/pages.h"

#include <sys/mman.h>
#include <unistd.h>

namespace pt2tflite::util {

void drop_mapped_pages(std::span<const uint8_t> bytes) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = reinterpret_cast<uintptr_t>(bytes.data());
  uintptr_t end = begin + bytes.size();
  // Whole pages only, so that a neighbouring constant being read is not faulted in again.
  uintptr_t first = (begin + page - 1) / page * page;
  uintptr_t last = end / page * page;
  if (last <= first) return;
  // A failure only means the pages stay resident; nothing to report.
  (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace pt2tflite::util
