#ifndef CLAKESUPPORT_H
#define CLAKESUPPORT_H

/// Asks the CPU to start loading the cache line at `address` for a write soon. Swift has no
/// prefetch of its own; a hash-table insert that knows its next keys' slots uses this to
/// overlap their cache misses instead of waiting for each in turn.
static inline void lake_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
