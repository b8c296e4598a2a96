// keep_freed_memory(): the C library's allocator set up for a training loop, whose every step
// allocates and frees the same large temporaries.
#pragma once

namespace poet {

// glibc serves each block above its mmap threshold with a fresh mapping and hands freed memory
// above its trim threshold back to the kernel, so every step page-faults its large temporaries
// in again (a chunk's fp32 logits are 13 MB in cpu-quick): over a fifth of cpu-quick's bf16 step,
// measured. This keeps such blocks in the heap for reuse. Called first in main(); does nothing
// where the C library has no such settings.
void keep_freed_memory();

}  // namespace poet
