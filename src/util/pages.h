// Giving back the resident pages of a read-only file mapping once its bytes have been read.
//
// Why: the archive's weights are memory-mapped; every page a pass or the writer reads stays
// resident (and counts in peak RSS) until the mapping goes away, although the converter needs
// most weights only once. Dropping a page of a read-only MAP_PRIVATE file mapping loses nothing:
// a later read faults it back in from the file (usually from the page cache).
#pragma once

#include <cstdint>
#include <span>

namespace pt2tflite::util {

// madvise(MADV_DONTNEED) on the pages lying wholly inside `bytes`. Only for bytes of a read-only
// file mapping: on anonymous memory it would zero them.
void drop_mapped_pages(std::span<const uint8_t> bytes);

}  // namespace pt2tflite::util
