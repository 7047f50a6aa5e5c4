// The header's helpers are `static inline`; what needs a compiled body lives here.
#define _GNU_SOURCE  // sync_file_range
#include <fcntl.h>
#include "CLakeSupport.h"

// SYNC_FILE_RANGE_WRITE alone only starts write-back and leaves the descriptor's error record
// to the fsync that follows; never add the WAIT flags, which would take a write-back error
// from that fsync.
int lake_start_writeback(int fd, int64_t offset, int64_t length) {
#if defined(__linux__)
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

#if defined(__x86_64__)
#include <immintrin.h>

int lake_crc32_fold_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

// Carry-less multiplication folding of the reflected CRC-32 (0xEDB88320), after Intel's
// "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction" (2009). The
// constants are x^k mod P(x) for the fold distances, bit-reflected and shifted as that paper
// derives them: 512 bits (four lanes), 128 bits (one lane), 64 and 32 bits for the final
// reduction, and the Barrett pair (P(x), floor(x^64 / P(x))).
#define K_512_LO 0x154442bd4ULL
#define K_512_HI 0x1c6e41596ULL
#define K_128_LO 0x1751997d0ULL
#define K_128_HI 0x0ccaa009eULL
#define K_64     0x163cd6124ULL
#define P_PRIME  0x1db710641ULL
#define MU       0x1f7011641ULL

__attribute__((target("pclmul,sse4.1")))
static inline __m128i fold(__m128i x, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

__attribute__((target("pclmul,sse4.1")))
uint32_t lake_crc32_fold(uint32_t state, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    __m128i x0 = _mm_loadu_si128((const __m128i *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)state));
    p += 64;
    length -= 64;
    __m128i k = _mm_set_epi64x((long long)K_512_HI, (long long)K_512_LO);
    while (length >= 64) {
        x0 = fold(x0, k, _mm_loadu_si128((const __m128i *)p));
        x1 = fold(x1, k, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold(x2, k, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold(x3, k, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        length -= 64;
    }
    k = _mm_set_epi64x((long long)K_128_HI, (long long)K_128_LO);
    x0 = fold(x0, k, x1);
    x0 = fold(x0, k, x2);
    x0 = fold(x0, k, x3);
    while (length >= 16) {
        x0 = fold(x0, k, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        length -= 16;
    }
    // 128 bits to 64: the low half times x^(64+32) mod P, added to the high half.
    __m128i t = _mm_clmulepi64_si128(x0, k, 0x10);
    x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), t);
    // 64 bits to 32.
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    t = _mm_srli_si128(x0, 4);
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), _mm_cvtsi64_si128((long long)K_64), 0x00);
    x0 = _mm_xor_si128(x0, t);
    // Barrett reduction to the 32-bit remainder.
    const __m128i barrett = _mm_set_epi64x((long long)MU, (long long)P_PRIME);
    t = x0;
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), barrett, 0x10);
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), barrett, 0x00);
    x0 = _mm_xor_si128(x0, t);
    return (uint32_t)_mm_extract_epi32(x0, 1);
}
#else
int lake_crc32_fold_available(void) { return 0; }
uint32_t lake_crc32_fold(uint32_t state, const void *data, size_t length) { (void)data; (void)length; return state; }
#endif

#if defined(__GLIBC__)
#include <malloc.h>
int lake_limit_malloc_arenas(int arenas) { return mallopt(M_ARENA_MAX, arenas); }
#else
int lake_limit_malloc_arenas(int arenas) { (void)arenas; return 0; }
#endif
