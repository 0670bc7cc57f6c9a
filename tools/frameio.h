/* SPDX-License-Identifier: MIT */
/*
 * Moving frame pictures between a file descriptor and plane memory with
 * readv/writev, one iovec per row (or per plane when rows are contiguous),
 * so put reads straight into a slot and cat writes straight from the mapping.
 */
#ifndef FBUS_TOOLS_FRAMEIO_H
#define FBUS_TOOLS_FRAMEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "framebus/framebus.h"

/* Bytes of picture in a frame: the sum of row_bytes * rows. */
uint64_t frameio_picture_size(const fbus_format *fmt);

/*
 * Write prefix (may be NULL) and then each plane's rows (row_bytes of each)
 * to fd, retrying partial writes and EINTR. Returns 0 or -errno (-EPIPE when
 * the reader of a pipe went away).
 */
int frameio_write(int fd, const void *prefix, size_t prefix_len, const uint8_t *const data[],
                  const fbus_format *fmt);

/*
 * Read a whole picture from fd into the planes. Returns 0 when complete, 1 at
 * end of input (*got says how many bytes came before it), -EINTR if
 * interrupted while tool_stop is set, or -errno.
 */
int frameio_read(int fd, uint8_t *const data[], const fbus_format *fmt, uint64_t *got);

/*
 * Read one line ending in '\n' from fd, a byte at a time so nothing past it is
 * consumed. Stores it without the '\n' and NUL-terminated. Returns its
 * length; -1 at end of input before any byte; -2 at end of input inside the
 * line; -3 if no '\n' came within size - 1 bytes; or -errno (< -3).
 * *len_out gets the bytes stored in every case.
 */
ssize_t frameio_read_line(int fd, char *buf, size_t size, size_t *len_out);

/*
 * Copy a frame's picture into buf (frameio_picture_size bytes) with the rows
 * packed, and describe the copy in *packed with its plane pointers in pdata.
 */
void frameio_pack(const uint8_t *const data[], const fbus_format *fmt, uint8_t *buf,
                  fbus_format *packed, const uint8_t *pdata[FBUS_MAX_PLANES]);

#endif /* FBUS_TOOLS_FRAMEIO_H */
