// keep_freed_memory(): two mallopt settings. A refused setting leaves glibc's default, which is
// slower but not wrong, so a refusal is not an error.
#include "common/memory_reuse.h"

#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

namespace poet {

void keep_freed_memory() {
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the most glibc documents (its own cap on 64-bit systems)
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

}  // namespace poet
