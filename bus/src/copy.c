/* SPDX-License-Identifier: MIT */
/*
 * Copying frames into slots. Big copies use non-temporal (streaming) stores:
 * a reader on another core holds the lines of the slots it read, and plain
 * stores must take each line back from it before writing, which made the
 * writer's memcpy four times slower with one busy reader (docs/protocol.md).
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FBUS_COPY_PLAIN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FBUS_COPY_PLAIN 1
#endif
#endif

#if defined(__x86_64__) && !defined(FBUS_COPY_PLAIN)
#include <emmintrin.h>
#define FBUS_COPY_STREAM 1
#endif

/*
 * Below this many bytes plain stores win: the copy fits the cache and a
 * reader picks it up from there. Measured on 345 KB .. 12 MB frames with a
 * reader on the other core (docs/benchmarks.md).
 */
#define STREAM_MIN (256u * 1024u)

#ifdef FBUS_COPY_STREAM
/* Streaming stores need a 16-byte aligned destination; the unaligned head
 * and the tail are copied with plain stores. */
static void copy_stream(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t head = (16 - ((uintptr_t)dst & 15)) & 15;

    if (head > n)
        head = n;
    memcpy(dst, src, head);
    dst += head;
    src += head;
    n -= head;
    for (; n >= 64; n -= 64, dst += 64, src += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)src);
        __m128i b = _mm_loadu_si128((const __m128i *)(src + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(src + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(src + 48));

        _mm_stream_si128((__m128i *)dst, a);
        _mm_stream_si128((__m128i *)(dst + 16), b);
        _mm_stream_si128((__m128i *)(dst + 32), c);
        _mm_stream_si128((__m128i *)(dst + 48), d);
    }
    for (; n >= 16; n -= 16, dst += 16, src += 16)
        _mm_stream_si128((__m128i *)dst, _mm_loadu_si128((const __m128i *)src));
    memcpy(dst, src, n);
}
#endif

FBUS_EXTERN void fbus_copy(void *dst, const void *src, size_t n)
{
    if (!n)
        return; /* memcpy wants valid pointers even for nothing */
#ifdef FBUS_COPY_STREAM
    if (n >= STREAM_MIN) {
        copy_stream(dst, src, n);
        /* Streaming stores are weakly ordered: without the fence a reader
         * could see the publish (a plain release store) before the pixels. */
        _mm_sfence();
        return;
    }
#endif
    memcpy(dst, src, n);
}

FBUS_EXTERN void fbus_copy_plane(void *dst, ptrdiff_t dst_stride, const void *src,
                                 ptrdiff_t src_stride, size_t row_bytes, size_t rows)
{
    uint8_t *d = dst;
    const uint8_t *s = src;

    if (!rows || !row_bytes)
        return;
    if (dst_stride == src_stride && dst_stride > 0 && (size_t)dst_stride == row_bytes) {
        fbus_copy(d, s, row_bytes * rows);
        return;
    }
#ifdef FBUS_COPY_STREAM
    if (row_bytes * rows >= STREAM_MIN) {
        for (size_t y = 0; y < rows; y++, d += dst_stride, s += src_stride)
            copy_stream(d, s, row_bytes);
        _mm_sfence();
        return;
    }
#endif
    for (size_t y = 0; y < rows; y++, d += dst_stride, s += src_stride)
        memcpy(d, s, row_bytes);
}
