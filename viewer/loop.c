/* SPDX-License-Identifier: MIT */
/*
 * The viewer's frame loop: attach to the bus (waiting for it if needed),
 * show each new frame, follow producer restarts and format changes while
 * keeping the last frame on screen, handle keys, and keep the stats.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "viewer.h"

volatile sig_atomic_t viewer_stop;

/* Longest a single wait for a frame may block, so events and signals are
 * handled promptly. */
#define WAIT_NS     (20 * 1000000LL)
#define TITLE_EVERY (500 * 1000000LL)

struct viewer {
    const struct viewer_opts *o;
    fbus_reader *reader;
    struct viewer_render rd;
    struct viewer_stats total, iv; /* whole run, current interval */
    fbus_format shown_fmt;         /* of the last frame shown */
    fbus_format seen_fmt;          /* of the last frame received */
    int have_fmt, have_seen;
    const char *status; /* why no frames flow now, or NULL */
    char last_err[256];
    int paused;
    int dirty;     /* the window needs redrawing without a new frame */
    int retry_now; /* a torn frame was dropped: get the next one at once */
    int64_t no_producer_since;
    int64_t stats_ns, next_stats, next_title, last_stats;
};

static double ms(int64_t ns, uint64_t n)
{
    return n ? (double)ns / (double)n / 1e6 : 0.0;
}

void viewer_stats_line(char *buf, size_t len, const char *bus, const char *status,
                       const fbus_format *fmt, const struct viewer_stats *st, int64_t now_ns)
{
    double secs = (double)(now_ns - st->since_ns) / 1e9;
    double fps = secs > 0 ? (double)st->shown / secs : 0.0;

    if (!fmt) {
        snprintf(buf, len, "%s: %s", bus, status ? status : "no frame yet");
        return;
    }
    snprintf(buf, len,
             "%s: %ux%u %s, %.1f fps, skipped %" PRIu64 ", overruns %" PRIu64
             ", latency %.1f ms%s%s",
             bus, fmt->width, fmt->height, fmt->pix_fmt, fps, st->skipped, st->overruns,
             ms(st->latency_ns, st->shown), status ? " - " : "", status ? status : "");
}

__attribute__((format(printf, 2, 3))) static void say(const char *bus, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, VIEWER_NAME ": bus \"%s\": ", bus);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void set_status(struct viewer *v, const char *status)
{
    if (status && (!v->status || strcmp(status, v->status) != 0))
        say(v->o->bus, "%s", status);
    v->status = status;
    v->next_title = 0;
}

static void update_title(struct viewer *v, int64_t now)
{
    char line[512];
    const char *status = v->paused ? "paused" : v->status;

    viewer_stats_line(line, sizeof(line), v->o->bus, status, v->have_fmt ? &v->shown_fmt : NULL,
                      &v->iv, now);
    viewer_render_title(&v->rd, line);
    snprintf(v->rd.overlay, sizeof(v->rd.overlay), "%s", line);
    /* A paused or idle window shows fresh numbers too. */
    if (v->rd.show_overlay)
        v->dirty = 1;
}

static void periodic(struct viewer *v, int64_t now)
{
    if (now >= v->next_title) {
        update_title(v, now);
        v->next_title = now + TITLE_EVERY;
    }
    if (v->stats_ns > 0 && now >= v->next_stats) {
        char line[512];
        /* While nothing flows, a line every ten intervals is enough. */
        int idle = v->iv.shown == 0 && !v->iv.overruns;
        if (idle && now - v->last_stats < 10 * v->stats_ns) {
            v->next_stats = now + v->stats_ns;
            return;
        }
        viewer_stats_line(line, sizeof(line), v->o->bus, v->paused ? "paused" : v->status,
                          v->have_fmt ? &v->shown_fmt : NULL, &v->iv, now);
        if (v->iv.shown)
            fprintf(stderr, VIEWER_NAME ": %s, acquire+upload+release %.2f ms\n", line,
                    ms(v->iv.upload_ns, v->iv.shown));
        else
            fprintf(stderr, VIEWER_NAME ": %s\n", line);
        v->last_stats = now;
        v->next_stats = now + v->stats_ns;
        memset(&v->iv, 0, sizeof(v->iv));
        v->iv.since_ns = now;
    }
}

/* Why a screenshot could not be written, naming what the user must fix. */
static void screenshot_error(const char *path, int rc)
{
    char dir[4096];

    if (rc == -EAGAIN) {
        fprintf(stderr, VIEWER_NAME ": cannot save screenshot %s: no frame was shown\n", path);
    } else if ((rc == -ENOENT || rc == -ENOTDIR) &&
               viewer_screenshot_dir_check(path, 0, dir, sizeof(dir)) < 0) {
        fprintf(stderr, VIEWER_NAME ": cannot save screenshot %s: directory \"%s\" %s\n", path, dir,
                rc == -ENOENT ? "does not exist" : "is not a directory");
    } else if (rc == -EINVAL) {
        fprintf(stderr,
                VIEWER_NAME ": cannot save screenshot %s: unknown file type (use .png, .bmp or "
                            ".ppm)\n",
                path);
    } else {
        fprintf(stderr, VIEWER_NAME ": cannot save screenshot %s: %s\n", path, strerror(-rc));
    }
}

/* Save the frame on screen to path. Returns 0, or a negative errno after
 * the message. */
static int screenshot(struct viewer *v, const char *path)
{
    uint8_t *rgb;
    int w, h;
    int rc = viewer_render_read_frame(&v->rd, &rgb, &w, &h);

    if (rc == 0) {
        rc = viewer_screenshot_write(path, rgb, w, h);
        free(rgb);
    }
    if (rc < 0)
        screenshot_error(path, rc);
    else
        fprintf(stderr, VIEWER_NAME ": saved screenshot %s (%dx%d)\n", path, w, h);
    return rc;
}

static void screenshot_key(struct viewer *v)
{
    char path[4096];
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    if (viewer_screenshot_name(path, sizeof(path), v->o->screenshot_dir, v->o->bus, &now) < 0) {
        fprintf(stderr, VIEWER_NAME ": --screenshot-dir: name too long\n");
        return;
    }
    (void)screenshot(v, path);
}

/* Returns 1 when the user asked to quit. */
static int handle_events(struct viewer *v)
{
    SDL_Event ev;

    while (SDL_PollEvent(&ev)) {
        switch (ev.type) {
        case SDL_QUIT:
            return 1;
        case SDL_WINDOWEVENT:
            /* The user sized the window: keep that size. (Going to and
             * from fullscreen resizes it too.) */
            if (ev.window.event == SDL_WINDOWEVENT_RESIZED && !v->rd.fullscreen)
                v->rd.sized = 1;
            if (ev.window.event == SDL_WINDOWEVENT_EXPOSED ||
                ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED)
                v->dirty = 1;
            break;
        case SDL_KEYDOWN:
            if (ev.key.repeat)
                break;
            switch (viewer_key_action(ev.key.keysym.sym, ev.key.keysym.mod)) {
            case VIEWER_ACTION_QUIT:
                return 1;
            case VIEWER_ACTION_FULLSCREEN:
                viewer_render_toggle_fullscreen(&v->rd);
                v->dirty = 1;
                break;
            case VIEWER_ACTION_PAUSE:
                v->paused = !v->paused;
                v->next_title = 0;
                break;
            case VIEWER_ACTION_SCREENSHOT:
                screenshot_key(v);
                break;
            case VIEWER_ACTION_OVERLAY:
                v->rd.show_overlay = !v->rd.show_overlay;
                v->dirty = 1;
                break;
            default:
                break;
            }
            break;
        default:
            break;
        }
    }
    return 0;
}

static int same_format(const fbus_format *a, const fbus_format *b)
{
    return a->width == b->width && a->height == b->height && !strcmp(a->pix_fmt, b->pix_fmt);
}

/* Show one frame the reader handed out. Returns 1 when --frames is done. */
static int show_frame(struct viewer *v, fbus_frame *f, int64_t t0)
{
    char err[256];

    if (f->flags & FBUS_FRAME_NEW_SESSION) {
        say(v->o->bus, "%s", "producer found, showing its frames");
        set_status(v, NULL);
    }
    if (v->have_seen && !same_format(&v->seen_fmt, &f->format)) {
        char what[160];
        snprintf(what, sizeof(what), "%ux%u %s -> %ux%u %s", v->seen_fmt.width, v->seen_fmt.height,
                 v->seen_fmt.pix_fmt, f->format.width, f->format.height, f->format.pix_fmt);
        say(v->o->bus, "format changed: %s", what);
    }
    v->seen_fmt = f->format;
    v->have_seen = 1;
    int up = viewer_render_upload(&v->rd, f, err, sizeof(err));
    fbus_format fmt = f->format;
    uint64_t dropped = f->dropped;
    int64_t publish_ns = f->publish_ns;
    /* The texture has its own copy of the image now: give the slot back at
     * once so the producer never waits on a viewer that is presenting. */
    int rel = fbus_reader_release(v->reader, f);
    int64_t t1 = fbus_now_ns();

    v->total.skipped += dropped;
    v->iv.skipped += dropped;
    if (rel == FBUS_EOVERRUN) {
        /* The writer reused the slot while we uploaded it: the texture may
         * hold a torn picture. Do not present it; fetch the newer frame. */
        v->total.overruns++;
        v->iv.overruns++;
        v->retry_now = 1;
        return 0;
    }
    if (up < 0) {
        if (strcmp(err, v->last_err) != 0) {
            fprintf(stderr, VIEWER_NAME ": bus \"%s\": %s\n", v->o->bus, err);
            snprintf(v->last_err, sizeof(v->last_err), "%s", err);
        }
        return 0;
    }
    v->last_err[0] = '\0';
    viewer_render_draw(&v->rd);
    v->dirty = 0;
    int64_t t2 = fbus_now_ns();
    v->shown_fmt = fmt;
    v->have_fmt = 1;
    v->total.shown++;
    v->iv.shown++;
    v->total.upload_ns += t1 - t0;
    v->iv.upload_ns += t1 - t0;
    v->total.latency_ns += t2 - publish_ns;
    v->iv.latency_ns += t2 - publish_ns;
    return v->o->frames && v->total.shown >= v->o->frames;
}

static const char *gone_status(int rc)
{
    switch (rc) {
    case FBUS_EENDED:
        return "producer ended the stream; keeping the last frame, waiting for a new producer";
    case FBUS_EPRODUCERGONE:
        return "producer is gone (died or stopped responding); keeping the last frame, waiting "
               "for a new producer";
    default:
        return "producer moved to a new region; following it";
    }
}

/* No producer is attached: say so, and give up after --timeout (0: at the
 * first look that finds none). Returns 0, or -ETIMEDOUT after the message. */
static int no_producer(struct viewer *v)
{
    int64_t now = fbus_now_ns();

    if (!v->no_producer_since)
        v->no_producer_since = now;
    if (!v->status || !strcmp(v->status, gone_status(FBUS_EREPLACED)))
        set_status(v, "waiting for a producer");
    if (v->o->timeout >= 0 && now - v->no_producer_since >= (int64_t)(v->o->timeout * 1e9)) {
        fprintf(stderr, VIEWER_NAME ": bus \"%s\": no producer within %g s\n", v->o->bus,
                v->o->timeout);
        return -ETIMEDOUT;
    }
    return 0;
}

/* One step of the loop without events: get a frame if there is one.
 * Returns 1 to stop (done), 0 to go on, a negative code on a fatal error. */
static int step(struct viewer *v)
{
    fbus_frame f;
    int64_t t0 = fbus_now_ns();
    /* Poll first so the cost of a frame that is already there is measured
     * without the wait for it. */
    int rc = fbus_reader_acquire(v->reader, 0, &f);

    if (rc == -EAGAIN) {
        rc = fbus_reader_acquire(v->reader, v->retry_now ? 5 * 1000000LL : WAIT_NS, &f);
        t0 = fbus_now_ns();
    }
    v->retry_now = 0;
    if (rc == 0) {
        v->no_producer_since = 0;
        return show_frame(v, &f, t0);
    }
    switch (rc) {
    case -EAGAIN:
    case -ETIMEDOUT:
    case -EINTR:
    case -ENOENT:
        break;
    case FBUS_EENDED:
    case FBUS_EPRODUCERGONE:
    case FBUS_EREPLACED:
        set_status(v, gone_status(rc));
        break;
    default:
        return rc;
    }
    /* A producer that moved is followed by the next acquire: no wait. */
    if (rc != FBUS_EREPLACED && !fbus_reader_attached(v->reader) && no_producer(v) < 0)
        return -ETIMEDOUT;
    if (v->dirty) {
        viewer_render_draw(&v->rd);
        v->dirty = 0;
    }
    return 0;
}

static void open_error(const char *bus, int rc)
{
    const char *hint = "";

    if (rc == -EACCES)
        hint = " (the bus belongs to another user; ask its producer for --mode)";
    else if (rc == FBUS_EBADREGION || rc == FBUS_EVERSION)
        hint = " (refusing to read it)";
    else if (rc == FBUS_EOWNER)
        hint = " (refused: --same-user)";
    fprintf(stderr, VIEWER_NAME ": bus \"%s\": %s%s\n", bus, fbus_strerror(rc), hint);
}

/* Open the window, then the reader (a lossless reader registered before a
 * slow SDL start-up would hold its producer back meanwhile), and start the
 * clocks. Returns 0, or -1 after the message. */
static int start(struct viewer *v)
{
    const struct viewer_opts *o = v->o;
    fbus_reader_opts ro = {0};
    char err[512];
    int rc;

    ro.transport = o->transport;
    ro.policy = o->policy;
    ro.flags = FBUS_READER_WAIT | (o->same_user ? FBUS_READER_SAME_USER : 0) |
               (o->low_latency ? FBUS_READER_LOW_LATENCY : 0);
    if (viewer_render_open(&v->rd, o, err, sizeof(err)) < 0) {
        fprintf(stderr, VIEWER_NAME ": %s\n", err);
        return -1;
    }
    rc = fbus_reader_open(o->bus, &ro, &v->reader);
    if (rc < 0) {
        open_error(o->bus, rc);
        return -1;
    }

    int64_t now = fbus_now_ns();
    double every = o->stats_interval >= 0 ? o->stats_interval : (o->headless ? 1.0 : 0.0);
    v->stats_ns = (int64_t)(every * 1e9);
    v->next_stats = now + v->stats_ns;
    v->total.since_ns = v->iv.since_ns = now;
    if (o->headless)
        fprintf(stderr, VIEWER_NAME ": %s: rendering off screen%s\n",
                o->headless_forced ? "--headless"
                                   : "no display (DISPLAY and WAYLAND_DISPLAY "
                                     "are unset)",
                v->stats_ns > 0 ? ", stats on stderr" : "");
    if (!fbus_reader_attached(v->reader)) {
        say(o->bus, "%s", "waiting for a producer");
        v->status = "waiting for a producer";
    }
    update_title(v, now);
    return 0;
}

/* Show frames until quit, a signal or --frames (0), or a fatal error (-1,
 * after its message). */
static int loop(struct viewer *v)
{
    for (;;) {
        if (viewer_stop || handle_events(v))
            return 0;
        if (v->paused) {
            if (v->dirty) {
                viewer_render_draw(&v->rd);
                v->dirty = 0;
            }
            SDL_WaitEventTimeout(NULL, 50);
        } else {
            int rc = step(v);
            if (rc == -ETIMEDOUT)
                return -1;
            if (rc < 0) {
                open_error(v->o->bus, rc);
                return -1;
            }
            if (rc == 1)
                return 0;
        }
        periodic(v, fbus_now_ns());
    }
}

/* After a clean stop: --screenshot-on-exit and the summary. Returns the
 * exit status. */
static int finish(struct viewer *v)
{
    int status = VIEWER_EXIT_OK;

    if (v->o->screenshot_on_exit && screenshot(v, v->o->screenshot_on_exit) < 0)
        status = VIEWER_EXIT_ERROR;
    fprintf(stderr,
            VIEWER_NAME ": shown %" PRIu64 " frames, skipped %" PRIu64 ", overruns %" PRIu64
                        ", mean latency %.2f ms, mean acquire+upload+release %.3f ms"
                        " (%s renderer)\n",
            v->total.shown, v->total.skipped, v->total.overruns,
            ms(v->total.latency_ns, v->total.shown), ms(v->total.upload_ns, v->total.shown),
            v->rd.renderer_name);
    return status;
}

int viewer_run(const struct viewer_opts *o)
{
    struct viewer *v = calloc(1, sizeof(*v));
    int status = VIEWER_EXIT_ERROR;

    if (!v) {
        fprintf(stderr, VIEWER_NAME ": out of memory\n");
        return VIEWER_EXIT_ERROR;
    }
    v->o = o;
    if (start(v) == 0 && loop(v) == 0)
        status = finish(v);
    if (v->rd.window || v->rd.renderer)
        viewer_render_close(&v->rd);
    fbus_reader_close(v->reader);
    free(v);
    return status;
}
