#ifndef CLAKESUPPORT_H
#define CLAKESUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// Asks the CPU to start loading the cache line at `address` for a write soon. Swift has no
/// prefetch of its own; a hash-table insert that knows its next keys' slots uses this to
/// overlap their cache misses instead of waiting for each in turn.
static inline void lake_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

/// Whether this CPU has the carry-less multiply (PCLMULQDQ, SSE4.1) `lake_crc32_fold` needs.
int lake_crc32_fold_available(void);

/// The CRC-32 state (not inverted: the running register of the reflected, 0xEDB88320 CRC)
/// after `length` bytes at `data`, folded 64 bytes at a time with carry-less multiplication.
/// Needs `lake_crc32_fold_available()`, `length >= 64` and a multiple of 16.
uint32_t lake_crc32_fold(uint32_t state, const void *data, size_t length);

/// Limits glibc's malloc to `arenas` arenas (mallopt M_ARENA_MAX). Returns 1 when set, 0
/// where the C library has no such setting.
int lake_limit_malloc_arenas(int arenas);

/// Starts writing `length` bytes of the file at `offset` back to the device without waiting
/// for them (Linux sync_file_range with SYNC_FILE_RANGE_WRITE): a hint, never a substitute for
/// fsync, which still reports any write-back error. Returns 0, or -1 with errno; elsewhere
/// a no-op returning 0.
int lake_start_writeback(int fd, int64_t offset, int64_t length);

#endif
