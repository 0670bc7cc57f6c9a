/* SPDX-License-Identifier: MIT */
/*
 * framebus: a shared-memory video frame bus. One writer publishes raw frames
 * into a region of shared memory; any number of readers on the same host get
 * zero-copy views of them. This is the library's only public header.
 */
#ifndef FRAMEBUS_FRAMEBUS_H
#define FRAMEBUS_FRAMEBUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FBUS_BUILDING) && defined(__GNUC__)
#define FBUS_EXTERN __attribute__((visibility("default")))
#else
#define FBUS_EXTERN
#endif

#define FBUS_VERSION_MAJOR 0
#define FBUS_VERSION_MINOR 1

/* Limits. A bus name is 1..FBUS_NAME_MAX characters of [A-Za-z0-9._-]. */
#define FBUS_NAME_MAX      64
#define FBUS_PIXFMT_MAX    32 /* including the terminating NUL */
#define FBUS_MAX_PLANES    4
#define FBUS_MAX_READERS   64
#define FBUS_MAX_SLOTS     64
#define FBUS_DEFAULT_SLOTS 3

/*
 * Error codes. Every function returns 0 (or a count) on success and a negative
 * value on failure: either a negative errno (-ENOENT no such bus, -EEXIST
 * bus already exists, -EACCES permission denied, -EINVAL bad argument,
 * -ETIMEDOUT, -EAGAIN nothing yet when polling, -ECHILD a handle used in a
 * forked child, -ENOMEM, -ENOSPC ...) or one of these framebus codes, all
 * below -10000. fbus_strerror() gives each the text listed here: the enum and
 * the texts come from this one list.
 */
#define FBUS_ERRORS(X)                                                                             \
    X(FBUS_EBADNAME, -10001, "invalid bus name (use 1-64 characters of A-Z a-z 0-9 . _ -)")        \
    X(FBUS_EBADREGION, -10002, "bus region is corrupt or not a framebus region")                   \
    X(FBUS_EVERSION, -10003, "bus region has an incompatible layout version")                      \
    X(FBUS_EOVERRUN, -10004, "frame was overwritten while it was read")                            \
    X(FBUS_EENDED, -10005, "producer ended the stream")                                            \
    X(FBUS_EPRODUCERGONE, -10006, "producer is gone (died or stopped responding)")                 \
    X(FBUS_EREPLACED, -10007, "producer moved to a new region")                                    \
    X(FBUS_EBUSY, -10008, "bus is held by a live producer")                                        \
    X(FBUS_EFULL, -10009, "too many readers on this bus")                                          \
    X(FBUS_EFORMAT, -10010, "unsupported pixel format or invalid frame format")                    \
    X(FBUS_ETOOBIG, -10011, "frame or region size out of range")                                   \
    X(FBUS_EOBSERVER, -10012, "read-only access to this bus: cannot register as a reader")         \
    X(FBUS_EOWNER, -10013, "bus belongs to another user")

enum {
#define FBUS_ERROR_ENUM_(name, value, text) name = value,
    FBUS_ERRORS(FBUS_ERROR_ENUM_)
#undef FBUS_ERROR_ENUM_
};

/*
 * Objects and threads. A writer or a reader handle belongs to one thread at
 * a time: calls on the same handle must not overlap (use one handle per
 * thread, or a lock). Different handles, in one process or many, need no
 * coordination. The functions that take no handle are thread-safe.
 *
 * Fork. A handle belongs to the process that opened it. In a forked child
 * every call on an inherited handle returns -ECHILD (fbus_writer_close() and
 * fbus_reader_close() only free the child's copy: the stream, the reader
 * entry and the reservation stay the parent's), and the child keeps none of
 * the parent's liveness locks, so a child that outlives its parent never
 * makes a dead producer or reader look alive. Open new handles in the child.
 *
 * ABI. Option and info structs are valid zero-initialised; fields marked
 * reserved must be zero. New fields take the place of reserved ones, so a
 * program built against an older header keeps working with a newer library
 * of the same major version. fbus_format, fbus_plane and fbus_color are
 * also part of the shared-memory layout (their sizes are pinned): they
 * never change within a layout version (fbus_layout_version()).
 */

/* Transports: both produce the same bytes, only the naming differs. */
typedef enum fbus_transport {
    FBUS_TRANSPORT_POSIX = 0, /* shm_open("/framebus.NAME") */
    FBUS_TRANSPORT_SYSV = 1,  /* ftok("/dev/shm/framebus-sysv.NAME") */
    /* Readers only: whichever transport holds the name (posix first), so a
     * reader started before its producer need not guess. */
    FBUS_TRANSPORT_ANY = 2,
} fbus_transport;

/* Reader policies. */
typedef enum fbus_policy {
    FBUS_POLICY_LATEST = 0,   /* always the newest frame; never blocks writer */
    FBUS_POLICY_LOSSLESS = 1, /* every frame in order; writer waits for it */
} fbus_policy;

/* One plane of a frame, in bytes, relative to the start of the slot. */
typedef struct fbus_plane {
    uint64_t offset;    /* first byte of the plane within the slot */
    uint32_t stride;    /* bytes from one row to the next (linesize) */
    uint32_t row_bytes; /* bytes of picture in each row (<= stride) */
    uint32_t rows;      /* number of rows */
    uint32_t reserved;
} fbus_plane;

/*
 * What a frame is. pix_fmt is a name as libavutil's av_get_pix_fmt() takes it
 * ("yuv420p", "nv12", "rgb24"...); the plane table says where the bytes are,
 * so a reader needs no pixel-format knowledge to copy a frame.
 */
typedef struct fbus_format {
    uint32_t width;
    uint32_t height;
    char pix_fmt[FBUS_PIXFMT_MAX];
    uint32_t nb_planes;
    uint32_t reserved;
    fbus_plane planes[FBUS_MAX_PLANES];
    uint64_t size; /* bytes of the slot used: max(offset + stride * rows) */
} fbus_format;

/*
 * Fill fmt for a known pixel format with each plane's rows aligned to
 * `align` bytes (0 means 64; must be a power of two). Known formats include
 * gray, gray16le, yuv420p/yuvj420p, yuv422p, yuv444p, yuv420p10le, nv12,
 * nv21, p010le, yuyv422, uyvy422, rgb24, bgr24, rgba, bgra, argb, abgr, rgb0,
 * bgr0, 0rgb, 0bgr. Returns 0, FBUS_EFORMAT for an unknown name, -EINVAL for
 * a zero or odd-where-it-must-be-even size, FBUS_ETOOBIG above 32768 pixels
 * a side. Programs with libavutil may instead fill the plane table
 * themselves for any other format.
 */
FBUS_EXTERN int fbus_format_init(fbus_format *fmt, const char *pix_fmt, uint32_t width,
                                 uint32_t height, uint32_t align);

/* Check a plane table for consistency against a slot capacity: 0 or
 * FBUS_EFORMAT. capacity 0 skips the capacity check. */
FBUS_EXTERN int fbus_format_check(const fbus_format *fmt, uint64_t capacity);

/* Return 0 if name is a valid bus name, FBUS_EBADNAME otherwise. */
FBUS_EXTERN int fbus_name_check(const char *name);

/* The version of the shared-memory layout this library reads and writes:
 * a region of another layout gives FBUS_EVERSION. */
FBUS_EXTERN unsigned fbus_layout_version(void);

/* A static, English description of any code this library returns. */
FBUS_EXTERN const char *fbus_strerror(int err);

/* ---------------------------------------------------------------- writer */

typedef struct fbus_writer fbus_writer;

/* Writer options; all-zero gives the defaults. */
typedef struct fbus_writer_opts {
    fbus_transport transport;  /* default posix */
    uint32_t slots;            /* 2..FBUS_MAX_SLOTS, default 3 */
    uint64_t slot_size;        /* bytes per slot; 0: from `format`, else 8 MiB */
    const fbus_format *format; /* optional: sizes the slots to fit it */
    uint32_t mode;             /* permission bits, default 0600 */
    uint32_t flags;            /* FBUS_WRITER_* */
    /* How long a session's first frame waits for lossless readers that were
     * waiting for the name (their reservations) to attach, and how long
     * fbus_writer_close() keeps an ended stream's name for them. 0: 2 s;
     * negative: never wait. */
    int64_t reserve_timeout_ns;
    /* A lossless reader that has not released a frame for this long while
     * the writer waits for it is demoted: the writer stops waiting for it
     * and it sees the frames it missed as drops. 0: 10 s; negative: never
     * (a stopped reader then stops the writer for good). */
    int64_t lease_ns;
    uint32_t reserved[8]; /* must be zero */
} fbus_writer_opts;

/* Do not start the heartbeat thread: the caller must then call
 * fbus_writer_heartbeat() at least every 100 ms. */
#define FBUS_WRITER_NO_THREAD 0x1u

/*
 * Signals: while a posix bus is mapped, the library keeps a SIGBUS handler
 * (installed again whenever a region is mapped, chaining to the handler the
 * program had) so that a process that shrinks the shared object cannot kill
 * the writer or a reader: faults in a bus mapping are repaired, every other
 * SIGBUS goes to the program's handler or the default action. See
 * docs/security.md.
 *
 * Create bus `name` and become its only writer. If a region of that name
 * exists whose producer ended or died, and it belongs to the caller's user,
 * it is taken over with a new session id.
 * Returns 0 and *out, or: FBUS_EBADNAME, FBUS_EBUSY (a live producer holds
 * the name), -EACCES, -EEXIST (a region of another user, or one not yet
 * initialised, holds the name), -EINVAL (bad option: transport, slots 1 or
 * over FBUS_MAX_SLOTS, mode bits), FBUS_EFORMAT (opts->format fails
 * fbus_format_check), FBUS_ETOOBIG, -ENOSPC (/dev/shm is full), -ENOMEM, or
 * another -errno of shm_open/shmget/mmap/link. On failure *out is NULL and
 * nothing is left behind.
 */
FBUS_EXTERN int fbus_writer_open(const char *name, const fbus_writer_opts *opts, fbus_writer **out);

/* Mark the stream ended (its last sequence number recorded), wake every
 * reader, keep the name while lossless readers that reserved it have yet to
 * register (at most reserve_timeout_ns), remove the name (if it is still
 * ours), unmap and free. NULL-safe. */
FBUS_EXTERN void fbus_writer_close(fbus_writer *w);

/* A slot the writer fills in place. data[i] points at plane i in shared
 * memory, valid until fbus_writer_publish(). */
typedef struct fbus_slot {
    uint8_t *data[FBUS_MAX_PLANES];
    fbus_format format;
    uint32_t index;    /* private to the library */
    uint32_t reserved; /* private to the library (which region lent it) */
    uint64_t seq;      /* sequence number this frame will be published with (lent: 0) */
} fbus_slot;

/*
 * Get a slot for the next frame of format `fmt`. Waits for the slowest
 * lossless reader if every slot is still needed (latest readers never make
 * it wait), up to timeout_ns (0 polls, negative waits forever; dead readers
 * are reclaimed and stopped ones demoted while waiting). The first frame of
 * a session first waits for the lossless readers that reserved the name
 * (see fbus_writer_opts.reserve_timeout_ns). If fmt does not fit the slots,
 * or someone shrank the region under us, the writer first moves to a fresh
 * region under the same name (readers follow).
 * Returns 0, -ETIMEDOUT, -EAGAIN (polling), FBUS_EFORMAT, FBUS_ETOOBIG,
 * -ENOSPC or another -errno of creating the new region, -EINVAL (NULL
 * argument, or a slot is already acquired), -ECHILD.
 */
FBUS_EXTERN int fbus_writer_acquire(fbus_writer *w, const fbus_format *fmt, int64_t timeout_ns,
                                    fbus_slot *slot);

/*
 * Colour description of a frame, in the code points of ITU-T H.273 (the
 * numbers ffmpeg's AVColorSpace, AVColorPrimaries and AVColorTransfer-
 * Characteristic use, and GStreamer's gst_video_color_matrix_from_iso()
 * takes). 0 means unknown in every field, so a zeroed struct says nothing;
 * for the matrix that costs H.273's 0 (identity), which RGB formats imply.
 */
typedef struct fbus_color {
    uint8_t matrix;    /* 1 BT.709, 5/6 BT.601, 9 BT.2020; 0 or 2: unknown */
    uint8_t range;     /* FBUS_RANGE_*: 0 unknown, 1 limited, 2 full */
    uint8_t primaries; /* 1 BT.709, 5 BT.470BG, 6 SMPTE 170M, 9 BT.2020 */
    uint8_t transfer;  /* 1 BT.709, 6 SMPTE 170M, 13 sRGB, 16 PQ, 18 HLG */
} fbus_color;

#define FBUS_RANGE_UNKNOWN 0
#define FBUS_RANGE_LIMITED 1 /* "tv", "mpeg": 16..235 for 8-bit luma */
#define FBUS_RANGE_FULL    2 /* "pc", "jpeg": 0..255 */

/*
 * What a published frame carries besides its pixels. Zero-initialised, every
 * field means unknown, except pts, whose unknown value is INT64_MIN (a NULL
 * meta sets it). The reserved fields must be zero: later versions give them
 * meanings without changing the size.
 */
typedef struct fbus_meta {
    int64_t pts;    /* presentation time in tb units, INT64_MIN if unknown */
    int32_t tb_num; /* time base, e.g. 1/90000; 0/0 if unknown */
    int32_t tb_den;
    uint32_t flags;   /* FBUS_FRAME_* */
    int32_t rate_num; /* nominal frame rate of the stream, e.g. 30000/1001; */
    int32_t rate_den; /*   0/0 if unknown or variable */
    int32_t sar_num;  /* sample (pixel) aspect ratio, e.g. 64/45; 0/0 if */
    int32_t sar_den;  /*   unknown, which readers take as 1:1 */
    fbus_color color;
    uint32_t reserved[4];
} fbus_meta;

#define FBUS_FRAME_KEY 0x1u /* the source frame was a key frame */

/* Publish the slot filled since fbus_writer_acquire(). meta may be NULL.
 * Never blocks; makes a system call only if a reader is waiting.
 * Returns 0, -EINVAL (not the acquired slot), FBUS_EFORMAT (slot->format was
 * edited into one readers would refuse; the slot stays acquired), -ECHILD. */
FBUS_EXTERN int fbus_writer_publish(fbus_writer *w, fbus_slot *slot, const fbus_meta *meta);

/*
 * Copy n bytes into a slot, the way readers on other cores want it: copies
 * of 256 KiB and more use non-temporal stores on x86-64, so the writer does
 * not have to take back the cache lines a reader still holds (with a busy
 * reader that made plain memcpy 4x slower). Any alignment; the bytes are
 * ordered before a later fbus_writer_publish(). Elsewhere, it is memcpy.
 */
FBUS_EXTERN void fbus_copy(void *dst, const void *src, size_t n);

/* fbus_copy() for an image plane: `rows` rows of `row_bytes` bytes each,
 * the rows `dst_stride` and `src_stride` bytes apart (may be negative). */
FBUS_EXTERN void fbus_copy_plane(void *dst, ptrdiff_t dst_stride, const void *src,
                                 ptrdiff_t src_stride, size_t row_bytes, size_t rows);

/* Give an acquired slot back without publishing it. */
FBUS_EXTERN void fbus_writer_cancel(fbus_writer *w, fbus_slot *slot);

/*
 * Lending ("direct rendering"): slots filled over a longer time, several at
 * once, and published in any order, so that a decoder decodes straight into
 * bus memory and nothing is copied. libavcodec's get_buffer2 asks for
 * buffers in decode order, keeps decoded frames as references for later
 * ones, and returns frames in display order: lend a slot for each buffer,
 * publish the slot when its frame comes out, give it back when libavcodec
 * frees the buffer. The pixels readers get are the decoder's own.
 *
 * fbus_writer_lend() lends a slot for a frame of format fmt and never
 * waits: it takes a slot that no lossless reader still needs and no reader
 * holds, or returns -EAGAIN, and then the caller uses memory of its own and
 * publishes that frame with fbus_writer_acquire() and a copy (which waits
 * for lossless readers as always). Two slots, plus one per latest reader,
 * are never lent, so fbus_writer_acquire() can always go on without taking
 * a frame a latest reader holds: give the bus as many slots more as the
 * decoder keeps frames. The slot's seq is 0 until it is published.
 * Returns 0, -EAGAIN, FBUS_EFORMAT (fmt is not valid or does not fit the
 * slots), -EINVAL, -ECHILD.
 *
 * Threads: fbus_writer_lend() and fbus_writer_give_back() may be called
 * from any thread, also while another thread is in another call on the
 * same writer (a decoder's threads lend and free buffers); every other
 * writer call is made by one thread at a time, as before. A writer closed
 * while slots are still lent ends its stream at once but keeps its memory
 * mapped until the last of them is given back.
 */
FBUS_EXTERN int fbus_writer_lend(fbus_writer *w, const fbus_format *fmt, fbus_slot *slot);

/*
 * Publish a lent slot as the next frame, with slot->format as it is now (a
 * decoder that crops moves plane offsets after lend). The slot stays lent:
 * the caller may go on reading it (a reference frame) but must not write
 * it. Returns 0; -ESTALE if the writer moved to a new region since the slot
 * was lent (a bigger format): publish the frame by copying it instead;
 * -EALREADY if the slot was published before (a decoder that shows a frame
 * twice): copy it too; -EBUSY while a slot is acquired; FBUS_EFORMAT
 * (slot->format does not pass fbus_format_check() against the slots);
 * -EINVAL (not a lent slot), -ECHILD.
 */
FBUS_EXTERN int fbus_writer_publish_lent(fbus_writer *w, fbus_slot *slot, const fbus_meta *meta);

/* Give a lent slot back, published or not: the writer reuses it once no
 * reader needs its frame. An unpublished one is dropped; readers never
 * see it. Any thread. */
FBUS_EXTERN void fbus_writer_give_back(fbus_writer *w, const fbus_slot *slot);

/* Refresh the heartbeat and reclaim dead readers (for FBUS_WRITER_NO_THREAD). */
FBUS_EXTERN void fbus_writer_heartbeat(fbus_writer *w);

/* Number of live registered readers (observers are not counted). */
FBUS_EXTERN int fbus_writer_readers(fbus_writer *w);

/* Wait until at least n readers are registered: 0, -ETIMEDOUT, -EAGAIN
 * (polling), -EINVAL, -ECHILD. A reader counts once it is protected (its
 * frames are kept for it). */
FBUS_EXTERN int fbus_writer_wait_readers(fbus_writer *w, int n, int64_t timeout_ns);

/* The writer's session id (random, new for every region). */
FBUS_EXTERN uint64_t fbus_writer_session(const fbus_writer *w);

/* ---------------------------------------------------------------- reader */

typedef struct fbus_reader fbus_reader;

typedef struct fbus_reader_opts {
    fbus_transport transport;    /* default posix */
    fbus_policy policy;          /* default latest */
    int64_t producer_timeout_ns; /* heartbeat age that means stalled; 0: 1 s */
    uint32_t flags;              /* FBUS_READER_* */
    uint32_t reserved[9];        /* must be zero */
} fbus_reader_opts;

/* Succeed even if the bus does not exist yet: acquire waits for it. */
#define FBUS_READER_WAIT 0x1u
/* Never register; read with validation alone (as when the bus is 0640). */
#define FBUS_READER_OBSERVER 0x2u
/* Attach only to a bus whose shared-memory object belongs to this process's
 * effective user (checked on the object actually mapped, so no other user
 * can slip one in between a check and the attach): a name squatted by
 * another user gives FBUS_EOWNER instead of its frames. */
#define FBUS_READER_SAME_USER 0x4u
/* Wake within microseconds of a publish, for a preview or a control loop at
 * a camera's rate: the reader sleeps until the writer *begins* a frame (the
 * writer says so in fbus_writer_acquire), then spins until the frame is
 * published, for at most 1/32 of the frame interval (so at most ~3 % of a
 * core; in practice the copy's time, ~1-2 % for 1080p at 60 fps), then
 * waits as a plain reader. Without it a sleeping reader is woken by the
 * kernel after the publish (15-130 us on a VM) and uses no CPU while it
 * waits. Best with the reader on another CPU than the writer
 * (docs/latency.md). With a writer of an older version it waits plainly;
 * observers (which cannot write the futex words) ignore it. */
#define FBUS_READER_LOW_LATENCY 0x8u

/*
 * Attach to bus `name`. A lossless reader also reserves the name for its
 * lifetime (a file /dev/shm/framebus-rsv.NAME.*), so that every session's
 * writer waits for it before its first frame, whatever the start order.
 * Returns 0 and *out, or FBUS_EBADNAME, -EINVAL (bad option), -ENOENT (no
 * such bus; never with FBUS_READER_WAIT), -EACCES, FBUS_EBADREGION,
 * FBUS_EVERSION, FBUS_EFULL, FBUS_EOBSERVER (lossless on a bus this user can
 * only read, or with FBUS_READER_OBSERVER), FBUS_EOWNER
 * (FBUS_READER_SAME_USER and another user's bus), -ENOMEM. A bus this user
 * may read but not write is attached as an observer automatically.
 */
FBUS_EXTERN int fbus_reader_open(const char *name, const fbus_reader_opts *opts, fbus_reader **out);

/* Unregister, unmap and free. Releases a held frame. NULL-safe. */
FBUS_EXTERN void fbus_reader_close(fbus_reader *r);

/* A frame as a reader sees it. */
typedef struct fbus_frame {
    const uint8_t *data[FBUS_MAX_PLANES]; /* valid until fbus_reader_release() */
    fbus_format format;                   /* a validated private copy */
    uint64_t seq;                         /* 1, 2, 3... within a session */
    uint64_t session;                     /* producer session id */
    int64_t pts;
    int32_t tb_num;
    int32_t tb_den;
    int64_t publish_ns; /* CLOCK_MONOTONIC when the writer published it */
    uint32_t flags;     /* FBUS_FRAME_* and FBUS_FRAME_NEW_SESSION */
    uint32_t slot;      /* private to the library */
    uint64_t dropped;   /* frames skipped since the previous one (latest) */
    int32_t rate_num;   /* as the writer's fbus_meta: nominal frame rate, */
    int32_t rate_den;   /*   0/0 unknown */
    int32_t sar_num;    /* sample aspect ratio, 0/0 unknown (1:1) */
    int32_t sar_den;
    fbus_color color;
    uint32_t reserved[3];
} fbus_frame;

/* Set on the first frame after (re)attaching to a producer session. */
#define FBUS_FRAME_NEW_SESSION 0x100u

/*
 * Get the next frame: the newest one (latest), or the one after the last one
 * released (lossless). Waits up to timeout_ns (0 polls, negative waits
 * forever); waiting for a bus that is not there yet is an inotify event, not
 * a poll. At most one frame is held at a time.
 * Returns 0 and *frame, or -EAGAIN (polling, nothing new), -ETIMEDOUT,
 * FBUS_EENDED (the stream ended; every frame of it was delivered first),
 * FBUS_EPRODUCERGONE (its producer died, or stopped for producer_timeout_ns;
 * frames published before were delivered first), FBUS_EREPLACED,
 * FBUS_EBADREGION, -EINVAL (NULL argument, or a frame is already held),
 * -ECHILD; and, when it (re)attaches, anything fbus_reader_open() returns
 * except -ENOENT (FBUS_EFULL, FBUS_EOWNER, FBUS_EVERSION, FBUS_EOBSERVER,
 * -EACCES...).
 * After EENDED, EPRODUCERGONE or EREPLACED the reader is detached; the next
 * call waits for a producer under the same name and attaches to it (its
 * first frame carries FBUS_FRAME_NEW_SESSION), so a loop that keeps calling
 * acquire follows producer restarts with no extra code.
 */
FBUS_EXTERN int fbus_reader_acquire(fbus_reader *r, int64_t timeout_ns, fbus_frame *frame);

/*
 * Give the frame back. Returns 0, FBUS_EOVERRUN if the writer reused the
 * slot while it was held (only latest readers with fewer than readers + 2
 * slots, or with fewer than readers + 2 slots not lent when they attached
 * to a writer that lends (fbus_writer_lend), observers, and lossless
 * readers demoted while they were stopped):
 * the bytes read may be torn and should be dropped; -EINVAL (not the held
 * frame), -ECHILD.
 */
FBUS_EXTERN int fbus_reader_release(fbus_reader *r, fbus_frame *frame);

/* Whether the reader is currently attached to a live region (1) or waiting
 * for a producer (0). */
FBUS_EXTERN int fbus_reader_attached(const fbus_reader *r);

/* ---------------------------------------------------------------- stats */

typedef enum fbus_state {
    FBUS_STATE_LIVE = 1,
    FBUS_STATE_ENDED = 2,
    FBUS_STATE_DEAD = 3, /* producer died without ending the stream */
} fbus_state;

typedef struct fbus_reader_info {
    int32_t pid;
    fbus_policy policy;
    uint64_t frames;   /* frames acquired */
    uint64_t overruns; /* releases that returned FBUS_EOVERRUN */
    uint64_t drops;    /* frames skipped */
    uint64_t lag;      /* newest seq - last seq it took */
    int64_t idle_ns;   /* time since it last acquired */
    int alive;         /* its liveness lock is held */
    int demoted;       /* lossless, but its lease ran out: not waited for */
} fbus_reader_info;

typedef struct fbus_stats {
    char name[FBUS_NAME_MAX + 1];
    fbus_transport transport;
    fbus_state state;
    int32_t producer_pid;
    uint32_t uid;
    uint32_t mode;
    uint64_t session;
    uint64_t region_size;
    uint32_t slots;
    uint64_t slot_size;
    fbus_format format;       /* of the newest frame; zeroed before the first */
    uint64_t frames;          /* published */
    uint64_t writer_waits;    /* times the writer waited for a lossless reader */
    uint64_t forced;          /* slots reused while a latest reader held them */
    uint64_t reserve_expired; /* reserved lossless readers not waited for longer */
    uint64_t demotions;       /* lossless readers whose lease ran out */
    double fps;               /* published over the last second or so */
    int64_t heartbeat_age_ns;
    int64_t last_publish_age_ns; /* -1 before the first frame */
    uint32_t nb_readers;
    fbus_reader_info readers[FBUS_MAX_READERS];
} fbus_stats;

/*
 * Read the state of a bus without joining it (needs only read access).
 * Returns 0, -ENOENT, -EACCES, FBUS_EBADNAME, FBUS_EBADREGION, FBUS_EVERSION.
 */
FBUS_EXTERN int fbus_stat(const char *name, fbus_transport transport, fbus_stats *st);

/* Call fn for every bus on this host, both transports. Stops when fn returns
 * non-zero and returns that value; else 0 or a negative errno. */
FBUS_EXTERN int fbus_list(int (*fn)(const char *name, fbus_transport t, void *opaque),
                          void *opaque);

/* Remove a bus's name (readers already attached keep their mapping).
 * Returns 0, -ENOENT, -EACCES, FBUS_EBADNAME. */
FBUS_EXTERN int fbus_unlink(const char *name, fbus_transport transport);

/* CLOCK_MONOTONIC in nanoseconds, the clock of publish_ns. */
FBUS_EXTERN int64_t fbus_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* FRAMEBUS_FRAMEBUS_H */
