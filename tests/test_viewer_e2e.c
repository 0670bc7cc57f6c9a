/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of framebus-viewer, run headless (SDL's offscreen driver
 * with the software renderer): a writer in this process publishes colour
 * bars in every pixel format, the real viewer shows them, and its
 * --screenshot-on-exit read-back of the texture is compared with the
 * colours. Also: format changes mid-stream, a producer killed and replaced,
 * a bus that appears after the viewer, several viewers, signals and errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "framebus/framebus.h"
#include "testutil.h"

#define VIEWER FBUS_TEST_BINDIR "/viewer/framebus-viewer"

/* Bars are 4 equal vertical stripes of these colours. */
struct rgb {
    int r, g, b;
};
static const struct rgb bars_a[4] = {{200, 40, 40}, {40, 200, 40}, {40, 40, 200}, {220, 220, 220}};
static const struct rgb bars_red[4] = {{200, 40, 40}, {200, 40, 40}, {200, 40, 40}, {200, 40, 40}};
static const struct rgb bars_green[4] = {
    {40, 200, 40}, {40, 200, 40}, {40, 200, 40}, {40, 200, 40}};
static const struct rgb bars_blue[4] = {{40, 40, 200}, {40, 40, 200}, {40, 40, 200}, {40, 40, 200}};

static char tmpdir[64];

/* ------------------------------------------------------------ painting */

static int clamp8(double v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (int)(v + 0.5);
}

/* The colour frames are painted in and tagged with (all 0: untagged). */
static fbus_color paint_color;

/* BT.601 (or BT.709 if paint_color says so), limited range unless full
 * (yuvj, which SDL calls JPEG, or paint_color's range). */
static void to_yuv(struct rgb c, int full, int *y, int *u, int *v)
{
    if (paint_color.matrix == 1) {
        double Y = (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255;
        double U = ((double)c.b / 255 - Y) / 1.8556, V = ((double)c.r / 255 - Y) / 1.5748;
        int lim = paint_color.range != FBUS_RANGE_FULL;
        *y = clamp8(lim ? 16 + 219 * Y : 255 * Y);
        *u = clamp8(128 + (lim ? 224 : 255) * U);
        *v = clamp8(128 + (lim ? 224 : 255) * V);
        return;
    }
    if (full) {
        *y = clamp8(0.299 * c.r + 0.587 * c.g + 0.114 * c.b);
        *u = clamp8(128 - 0.168736 * c.r - 0.331264 * c.g + 0.5 * c.b);
        *v = clamp8(128 + 0.5 * c.r - 0.418688 * c.g - 0.081312 * c.b);
    } else {
        *y = clamp8(16 + (65.481 * c.r + 128.553 * c.g + 24.966 * c.b) / 255);
        *u = clamp8(128 + (-37.797 * c.r - 74.203 * c.g + 112.0 * c.b) / 255);
        *v = clamp8(128 + (112.0 * c.r - 93.786 * c.g - 18.214 * c.b) / 255);
    }
}

static int is_gray(const char *pf)
{
    return !strncmp(pf, "gray", 4);
}

/* What the viewer should show for colour c in format pf. */
static struct rgb expected(const char *pf, struct rgb c)
{
    if (is_gray(pf)) {
        int y = clamp8(0.299 * c.r + 0.587 * c.g + 0.114 * c.b);
        return (struct rgb){y, y, y};
    }
    return c;
}

static void put16(uint8_t *p, int v)
{
    p[0] = (uint8_t)(v & 255);
    p[1] = (uint8_t)(v >> 8);
}

/* The byte order of a packed RGB format, X for padding; NULL if not one. */
static const char *rgb_order(const char *pf)
{
    static const char *const map[][2] = {
        {"rgb24", "RGB"}, {"bgr24", "BGR"}, {"rgba", "RGBA"}, {"bgra", "BGRA"}, {"argb", "ARGB"},
        {"abgr", "ABGR"}, {"rgb0", "RGBX"}, {"bgr0", "BGRX"}, {"0rgb", "XRGB"}, {"0bgr", "XBGR"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i][0], pf))
            return map[i][1];
    return NULL;
}

/* Paint 4 vertical bars into a slot of format f. */
static void paint(const fbus_format *f, uint8_t *const *data, const struct rgb bars[4])
{
    const char *pf = f->pix_fmt;
    int w = (int)f->width, h = (int)f->height;
    int full = !strncmp(pf, "yuvj", 4);
    const char *order = rgb_order(pf);

    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            struct rgb c = bars[x * 4 / w];
            int Y, U, V;
            to_yuv(c, full, &Y, &U, &V);
            uint8_t *row0 = data[0] + (size_t)y * f->planes[0].stride;
            if (order) {
                size_t bpp = strlen(order);
                for (size_t k = 0; k < bpp; k++) {
                    int val = order[k] == 'R'   ? c.r
                              : order[k] == 'G' ? c.g
                              : order[k] == 'B' ? c.b
                              : order[k] == 'A' ? 128 /* must not blend */
                                                : 0;
                    row0[x * bpp + k] = (uint8_t)val;
                }
            } else if (is_gray(pf)) {
                int g = expected(pf, c).r;
                if (!strcmp(pf, "gray16le"))
                    put16(row0 + 2 * x, g << 8 | g);
                else
                    row0[x] = (uint8_t)g;
            } else if (!strcmp(pf, "yuyv422") || !strcmp(pf, "uyvy422")) {
                int yuyv = pf[0] == 'y';
                uint8_t *p = row0 + (x / 2) * 4;
                p[yuyv ? (x & 1) * 2 : 1 + (x & 1) * 2] = (uint8_t)Y;
                p[yuyv ? 1 : 0] = (uint8_t)U;
                p[yuyv ? 3 : 2] = (uint8_t)V;
            } else if (!strcmp(pf, "nv12") || !strcmp(pf, "nv21") || !strcmp(pf, "p010le")) {
                int deep = pf[0] == 'p';
                int swap = !strcmp(pf, "nv21");
                if (deep)
                    put16(row0 + 2 * x, Y << 8);
                else
                    row0[x] = (uint8_t)Y;
                if (!(x & 1) && !(y & 1)) {
                    uint8_t *c1 = data[1] + (size_t)(y / 2) * f->planes[1].stride;
                    if (deep) {
                        put16(c1 + 2 * x, U << 8);
                        put16(c1 + 2 * x + 2, V << 8);
                    } else {
                        c1[x] = (uint8_t)(swap ? V : U);
                        c1[x + 1] = (uint8_t)(swap ? U : V);
                    }
                }
            } else {
                /* Planar YUV: yuv420p, yuvj420p, yuv422p, yuv444p, yuv420p10le. */
                int deep = strstr(pf, "10le") != NULL;
                int sx = strstr(pf, "444") ? 0 : 1;
                int sy = strstr(pf, "420") ? 1 : 0;
                if (deep)
                    put16(row0 + 2 * x, Y << 2);
                else
                    row0[x] = (uint8_t)Y;
                if (!(x & ((1 << sx) - 1)) && !(y & ((1 << sy) - 1))) {
                    int cx = x >> sx, cy = y >> sy;
                    uint8_t *u = data[1] + (size_t)cy * f->planes[1].stride;
                    uint8_t *v = data[2] + (size_t)cy * f->planes[2].stride;
                    if (deep) {
                        put16(u + 2 * cx, U << 2);
                        put16(v + 2 * cx, V << 2);
                    } else {
                        u[cx] = (uint8_t)U;
                        v[cx] = (uint8_t)V;
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------ helpers */

struct pub {
    fbus_writer *w;
    fbus_format fmt;
    const struct rgb *bars;
};

static fbus_transport pub_transport = FBUS_TRANSPORT_POSIX;

static int pub_open(struct pub *p, const char *name, const char *pf, int w, int h,
                    const struct rgb bars[4])
{
    fbus_writer_opts o = {0};
    int rc = fbus_format_init(&p->fmt, pf, (uint32_t)w, (uint32_t)h, 0);

    if (rc < 0)
        return rc;
    p->bars = bars;
    o.format = &p->fmt;
    o.transport = pub_transport;
    /* A producer that was just SIGKILLed may still look alive for a moment. */
    for (int i = 0; i < 300; i++) {
        rc = fbus_writer_open(name, &o, &p->w);
        if (rc != FBUS_EBUSY && rc != -EEXIST)
            break;
        tu_sleep_ms(10);
    }
    return rc;
}

static int pub_set(struct pub *p, const char *pf, int w, int h, const struct rgb bars[4])
{
    p->bars = bars;
    return fbus_format_init(&p->fmt, pf, (uint32_t)w, (uint32_t)h, 0);
}

static int pub_one(struct pub *p)
{
    fbus_slot s;
    int rc = fbus_writer_acquire(p->w, &p->fmt, 5 * TU_SEC, &s);

    if (rc < 0)
        return rc;
    if (p->bars) {
        paint(&s.format, s.data, p->bars);
    } else {
        /* Not a format paint() knows: fill what the plane table says. */
        for (uint32_t i = 0; i < s.format.nb_planes; i++)
            memset(s.data[i], 0x80, (size_t)s.format.planes[i].stride * s.format.planes[i].rows);
    }
    fbus_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.pts = INT64_MIN;
    meta.color = paint_color;
    return fbus_writer_publish(p->w, &s, &meta);
}

/* Frames the reader of process pid has taken in the bus's current region,
 * or -1 if it is not registered there. */
static long reader_frames(const char *name, pid_t pid)
{
    static fbus_stats st;

    if (fbus_stat(name, FBUS_TRANSPORT_POSIX, &st) < 0)
        return -1;
    for (uint32_t i = 0; i < st.nb_readers && i < FBUS_MAX_READERS; i++)
        if (st.readers[i].pid == pid && st.readers[i].alive)
            return (long)st.readers[i].frames;
    return -1;
}

/* Publish a frame every 5 ms until reader pid has taken `more` frames more
 * than when we started (in this region), or 10 s passed. Returns 0 or -1. */
static int pub_until_seen(struct pub *p, const char *name, pid_t pid, long more)
{
    long base = -1;
    int64_t end = tu_now_ns() + 10 * TU_SEC;

    while (tu_now_ns() < end) {
        if (pub_one(p) < 0)
            return -1;
        long n = reader_frames(name, pid);
        if (base < 0)
            base = n < 0 ? 0 : n;
        if (n >= base + more)
            return 0;
        tu_sleep_ms(5);
    }
    return -1;
}

__attribute__((format(printf, 3, 4))) static void path_in_tmp(char *buf, size_t len,
                                                              const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(buf, len, "%s/", tmpdir);

    va_start(ap, fmt);
    vsnprintf(buf + n, len - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Start the viewer with stderr to errfile, headless; args end with NULL. */
static pid_t spawn_viewer(const char *errfile, ...)
{
    char *argv[32];
    int n = 0;
    va_list ap;

    argv[n++] = (char *)VIEWER;
    argv[n++] = (char *)"--headless";
    /* If a test fails half-way, its viewers still go away on their own. */
    argv[n++] = (char *)"--timeout";
    argv[n++] = (char *)"30";
    va_start(ap, errfile);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *));)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;

    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nul = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        if (nul >= 0)
            dup2(nul, 1);
        unsetenv("DISPLAY");
        unsetenv("WAYLAND_DISPLAY");
        execv(VIEWER, argv);
        _exit(127);
    }
    return pid;
}

static char *slurp(const char *path)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n = 0;

    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

struct image {
    int w, h;
    uint8_t *px;
};

static int read_ppm(const char *path, struct image *im)
{
    FILE *f = fopen(path, "rb");
    int maxv = 0;

    im->px = NULL;
    if (!f)
        return -1;
    if (fscanf(f, "P6 %d %d %d", &im->w, &im->h, &maxv) != 3 || maxv != 255 || fgetc(f) != '\n' ||
        im->w <= 0 || im->h <= 0 || im->w > 8192 || im->h > 8192) {
        fclose(f);
        return -1;
    }
    size_t n = (size_t)im->w * (size_t)im->h * 3;
    im->px = malloc(n);
    if (!im->px || fread(im->px, 1, n, f) != n) {
        fclose(f);
        free(im->px);
        im->px = NULL;
        return -1;
    }
    fclose(f);
    return 0;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A 24-bit bottom-up BMP as a viewer writes it, to RGB. */
static int read_bmp(const char *path, struct image *im)
{
    FILE *f = fopen(path, "rb");
    uint8_t head[54];

    im->px = NULL;
    if (!f)
        return -1;
    if (fread(head, 1, sizeof(head), f) != sizeof(head) || memcmp(head, "BM", 2) != 0 ||
        get32(head + 10) != 54 || head[28] != 24 || (int32_t)get32(head + 22) <= 0) {
        fclose(f);
        return -1;
    }
    im->w = (int)get32(head + 18);
    im->h = (int)get32(head + 22);
    size_t row = (size_t)im->w * 3, stride = (row + 3) & ~(size_t)3;
    uint8_t *line = malloc(stride);
    im->px = malloc(row * (size_t)im->h);
    for (int y = im->h - 1; y >= 0 && line && im->px; y--) {
        if (fread(line, 1, stride, f) != stride)
            break;
        for (size_t x = 0; x < row; x += 3) {
            uint8_t *p = im->px + (size_t)y * row + x;
            p[0] = line[x + 2];
            p[1] = line[x + 1];
            p[2] = line[x];
        }
        if (y == 0) {
            free(line);
            fclose(f);
            return 0;
        }
    }
    free(line);
    free(im->px);
    im->px = NULL;
    fclose(f);
    return -1;
}

/* Check the centre of each bar against the expected colours. */
static void check_bars(const char *shot, const char *pf, int w, int h, const struct rgb bars[4])
{
    struct image im;
    size_t len = strlen(shot);

    if (len > 4 && !strcmp(shot + len - 4, ".bmp"))
        assert_int_equal(read_bmp(shot, &im), 0);
    else
        assert_int_equal(read_ppm(shot, &im), 0);
    assert_int_equal(im.w, w);
    assert_int_equal(im.h, h);
    for (int b = 0; b < 4; b++) {
        int x = (2 * b + 1) * w / 8, y = h / 2;
        const uint8_t *p = im.px + ((size_t)y * (size_t)w + (size_t)x) * 3;
        struct rgb want = expected(pf, bars[b]);
        if (abs(p[0] - want.r) > 8 || abs(p[1] - want.g) > 8 || abs(p[2] - want.b) > 8) {
            print_error("%s bar %d at (%d,%d): got %d,%d,%d want %d,%d,%d\n", pf, b, x, y, p[0],
                        p[1], p[2], want.r, want.g, want.b);
            free(im.px);
            fail();
        }
    }
    free(im.px);
}

/* The exit status of a child that has exited (128 + signal if killed), or
 * -1 if it is still running. Unlike tu_wait, never kills it. */
static int try_wait(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, WNOHANG) != pid)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

/* ------------------------------------------------------------ tests */

static void show_format_as(const char *pf, const char *ext)
{
    char name[FBUS_NAME_MAX + 1], shot[256], err[256];
    struct pub p = {0};
    int w = 96, h = 48;

    tu_bus_name(name, sizeof(name), "vwfmt");
    path_in_tmp(shot, sizeof(shot), "%s.%s", pf, ext);
    path_in_tmp(err, sizeof(err), "%s.err", pf);
    assert_int_equal(pub_open(&p, name, pf, w, h, bars_a), 0);
    pid_t pid = spawn_viewer(err, "--bus", name, "--frames", "3", "--screenshot-on-exit", shot,
                             (char *)NULL);
    assert_true(pid > 0);

    int status = -1;
    int64_t end = tu_now_ns() + 15 * TU_SEC;
    while (tu_now_ns() < end) {
        assert_int_equal(pub_one(&p), 0);
        status = try_wait(pid);
        if (status != -1 || tu_now_ns() >= end)
            break;
        tu_sleep_ms(5);
    }
    if (status == -1)
        status = tu_wait(pid, 1000);
    fbus_writer_close(p.w);
    tu_bus_cleanup(name);
    if (status != 0)
        print_error("viewer stderr:\n%s", slurp(err));
    assert_int_equal(status, 0);
    if (strcmp(ext, "png") != 0) { /* PNG is only checked for its signature */
        check_bars(shot, pf, w, h, bars_a);
        unlink(shot);
    }
    unlink(err);
}

static void show_format(const char *pf)
{
    show_format_as(pf, "ppm");
}

#define FORMAT_TEST(id, pf)                                                                        \
    static void test_format_##id(void **state)                                                     \
    {                                                                                              \
        (void)state;                                                                               \
        show_format(pf);                                                                           \
    }
/* Direct uploads from the mapping. */
FORMAT_TEST(yuv420p, "yuv420p")
FORMAT_TEST(yuvj420p, "yuvj420p")
FORMAT_TEST(nv12, "nv12")
FORMAT_TEST(nv21, "nv21")
FORMAT_TEST(yuyv422, "yuyv422")
FORMAT_TEST(uyvy422, "uyvy422")
FORMAT_TEST(rgb24, "rgb24")
FORMAT_TEST(bgr24, "bgr24")
FORMAT_TEST(rgba, "rgba")
FORMAT_TEST(bgra, "bgra")
FORMAT_TEST(argb, "argb")
FORMAT_TEST(abgr, "abgr")
FORMAT_TEST(rgb0, "rgb0")
FORMAT_TEST(bgr0, "bgr0")
FORMAT_TEST(0rgb, "0rgb")
FORMAT_TEST(0bgr, "0bgr")
/* Converted by libswscale. */
FORMAT_TEST(gray, "gray")
FORMAT_TEST(gray16le, "gray16le")
FORMAT_TEST(yuv422p, "yuv422p")
FORMAT_TEST(yuv444p, "yuv444p")
FORMAT_TEST(yuv420p10le, "yuv420p10le")
FORMAT_TEST(p010le, "p010le")

static int run_viewer(const char **log, ...);

/* Screenshots: BMP and PNG are written, other names refused before the
 * viewer starts, a missing directory named, no frame said as such. */
static void test_screenshots(void **state)
{
    const char *log;
    char name[FBUS_NAME_MAX + 1], shot[256], want[512], png[256];
    (void)state;

    show_format_as("yuv420p", "bmp");
    show_format_as("rgb24", "png");
    path_in_tmp(png, sizeof(png), "rgb24.png");
    FILE *f = fopen(png, "rb");
    unsigned char sig[8] = {0};
    assert_non_null(f);
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    unlink(png);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);

    tu_bus_name(name, sizeof(name), "vwshot");
    assert_int_equal(run_viewer(&log, "--bus", name, "--screenshot-on-exit", "x.jpg", (char *)NULL),
                     2);
    assert_string_equal(log, "framebus-viewer: --screenshot-on-exit: \"x.jpg\": unknown file type "
                             "(use .png, .bmp or .ppm) (see --help)\n");

    path_in_tmp(shot, sizeof(shot), "no-such-dir/x.png");
    assert_int_equal(run_viewer(&log, "--bus", name, "--screenshot-on-exit", shot, (char *)NULL),
                     1);
    snprintf(want, sizeof(want),
             "framebus-viewer: --screenshot-on-exit: directory \"%s/no-such-dir\" does not "
             "exist\n",
             tmpdir);
    assert_string_equal(log, want);

    path_in_tmp(shot, sizeof(shot), "no-such-dir");
    assert_int_equal(run_viewer(&log, "--bus", name, "--screenshot-dir", shot, (char *)NULL), 1);
    snprintf(want, sizeof(want),
             "framebus-viewer: --screenshot-dir: directory \"%s\" does not exist\n", shot);
    assert_string_equal(log, want);

    /* Stopped before any frame: that is what the message says. */
    char err[256];
    path_in_tmp(shot, sizeof(shot), "never.png");
    path_in_tmp(err, sizeof(err), "never.err");
    pid_t pid = spawn_viewer(err, "--bus", name, "--screenshot-on-exit", shot, (char *)NULL);
    assert_true(pid > 0);
    for (int i = 0; i < 500 && !strstr(slurp(err), "waiting for a producer"); i++)
        tu_sleep_ms(10);
    kill(pid, SIGTERM);
    assert_int_equal(tu_wait(pid, 10000), 1);
    snprintf(want, sizeof(want), "framebus-viewer: cannot save screenshot %s: no frame was shown\n",
             shot);
    assert_non_null(strstr(slurp(err), want));
    assert_int_equal(access(shot, F_OK), -1);
    unlink(err);
}

#define PRODUCER FBUS_TEST_BINDIR "/producer/framebus-producer"

/* Pixels of an RGB image within tol of (r, g, b), in percent. */
static double share_near(const struct image *im, int r, int g, int b, int tol)
{
    size_t n = 0, total = (size_t)im->w * (size_t)im->h;

    for (size_t i = 0; i < total; i++) {
        const uint8_t *p = im->px + i * 3;
        n += abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
    }
    return 100.0 * (double)n / (double)total;
}

/* The producer's test pattern on screen: its 75% green bar is (0,191,0)
 * whether it is HD (encoded and tagged BT.709) or SD (BT.601), not the
 * (0,161,0) of BT.601 bars decoded as BT.709. */
static void pattern_colours(const char *size)
{
    char name[FBUS_NAME_MAX + 1], shot[256], err[256], perr[256];
    struct image im;

    tu_bus_name(name, sizeof(name), "vwpat");
    path_in_tmp(shot, sizeof(shot), "pattern-%s.ppm", size);
    path_in_tmp(err, sizeof(err), "pattern-%s.err", size);
    path_in_tmp(perr, sizeof(perr), "pattern-%s.perr", size);
    pid_t prod = fork();
    if (prod == 0) {
        int fd = open(perr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        execl(PRODUCER, PRODUCER, "-q", "--bus", name, "--size", size, "--fps", "30", (char *)NULL);
        _exit(127);
    }
    assert_true(prod > 0);
    pid_t pid = spawn_viewer(err, "--bus", name, "--frames", "3", "--screenshot-on-exit", shot,
                             (char *)NULL);
    int status = tu_wait(pid, 30000);
    kill(prod, SIGTERM);
    tu_wait(prod, 10000);
    tu_bus_cleanup(name);
    if (status != 0)
        print_error("viewer stderr:\n%s\nproducer stderr:\n%s", slurp(err), slurp(perr));
    assert_int_equal(status, 0);
    assert_int_equal(read_ppm(shot, &im), 0);
    double green = share_near(&im, 0, 191, 0, 10), wrong = share_near(&im, 0, 161, 0, 10);
    print_message("%s: %.1f%% of the pixels are (0,191,0), %.1f%% (0,161,0)\n", size, green, wrong);
    free(im.px);
    /* One bar of eight, less the band and the frame number. */
    assert_true(green > 5.0);
    assert_true(wrong < 0.5);
    unlink(shot);
    unlink(err);
    unlink(perr);
}

static void test_pattern_colours_hd(void **state)
{
    (void)state;
    pattern_colours("1280x720");
}

static void test_pattern_colours_sd(void **state)
{
    (void)state;
    pattern_colours("640x360");
}

/* Frames tagged with a matrix are decoded with it, whatever their height
 * (untagged 96x48 would be BT.601): BT.709 limited through SDL, and BT.709
 * full range, which SDL2 has no mode for, through libswscale. */
static void tagged_colours(const char *pf, int range)
{
    paint_color = (fbus_color){1, (uint8_t)range, 1, 1};
    show_format(pf);
    paint_color = (fbus_color){0, 0, 0, 0};
}

static void test_tagged_bt709(void **state)
{
    (void)state;
    tagged_colours("yuv420p", FBUS_RANGE_LIMITED);
    tagged_colours("nv12", FBUS_RANGE_LIMITED);
    tagged_colours("yuv420p", FBUS_RANGE_FULL);
    tagged_colours("yuv444p", FBUS_RANGE_LIMITED);
}

/* A frame the viewer cannot display is reported once, not shown, and the
 * viewer goes on with the next displayable one. */
static void test_undisplayable_format(void **state)
{
    char name[FBUS_NAME_MAX + 1], shot[256], err[256], want[200];
    struct pub p = {0};
    (void)state;

    tu_bus_name(name, sizeof(name), "vwbad");
    path_in_tmp(shot, sizeof(shot), "bad.ppm");
    path_in_tmp(err, sizeof(err), "bad.err");
    assert_int_equal(pub_open(&p, name, "rgb24", 64, 32, bars_red), 0);
    pid_t pid = spawn_viewer(err, "--bus", name, "--screenshot-on-exit", shot, (char *)NULL);
    assert_true(pid > 0);
    assert_int_equal(pub_until_seen(&p, name, pid, 2), 0);
    /* A plane table for a name no one knows (the library only checks the
     * table); then one whose rows do not cover its height. */
    snprintf(p.fmt.pix_fmt, sizeof(p.fmt.pix_fmt), "nonesuch");
    p.bars = NULL;
    assert_int_equal(pub_until_seen(&p, name, pid, 3), 0);
    assert_int_equal(pub_set(&p, "yuv420p", 64, 32, NULL), 0);
    p.fmt.planes[0].rows = 8;
    assert_int_equal(pub_until_seen(&p, name, pid, 3), 0);
    assert_int_equal(pub_set(&p, "rgb24", 64, 32, bars_blue), 0);
    assert_int_equal(pub_until_seen(&p, name, pid, 3), 0);
    kill(pid, SIGTERM);
    int status = tu_wait(pid, 15000);
    fbus_writer_close(p.w);
    tu_bus_cleanup(name);

    const char *log = slurp(err);
    if (status != 0)
        print_error("viewer stderr:\n%s", log);
    assert_int_equal(status, 0);
    snprintf(want, sizeof(want),
             "framebus-viewer: bus \"%s\": cannot display 64x32 \"nonesuch\" "
             "frames: unknown pixel format or its planes do not fit its size\n",
             name);
    const char *hit = strstr(log, want);
    assert_non_null(hit);
    assert_null(strstr(hit + 1, want)); /* once */
    assert_non_null(strstr(log, "cannot display 64x32 \"yuv420p\" frames"));
    check_bars(shot, "rgb24", 64, 32, bars_blue);
    unlink(shot);
    unlink(err);
}

/* The SysV transport shows the same pixels. */
static void test_sysv_transport(void **state)
{
    char name[FBUS_NAME_MAX + 1], shot[256], err[256];
    struct pub p = {0};
    (void)state;

    tu_bus_name(name, sizeof(name), "vwsysv");
    path_in_tmp(shot, sizeof(shot), "sysv.ppm");
    path_in_tmp(err, sizeof(err), "sysv.err");
    pub_transport = FBUS_TRANSPORT_SYSV;
    int rc = pub_open(&p, name, "nv12", 96, 48, bars_a);
    pub_transport = FBUS_TRANSPORT_POSIX;
    assert_int_equal(rc, 0);
    /* No --transport: the viewer finds the SysV bus by its name. */
    pid_t pid = spawn_viewer(err, "--bus", name, "--frames", "3", "--screenshot-on-exit", shot,
                             (char *)NULL);
    assert_true(pid > 0);
    int status = -1;
    for (int i = 0; i < 2000 && status == -1; i++) {
        assert_int_equal(pub_one(&p), 0);
        tu_sleep_ms(5);
        status = try_wait(pid);
    }
    if (status == -1)
        status = tu_wait(pid, 1000);
    fbus_writer_close(p.w);
    tu_bus_cleanup(name);
    if (status != 0)
        print_error("viewer stderr:\n%s", slurp(err));
    assert_int_equal(status, 0);
    check_bars(shot, "nv12", 96, 48, bars_a);
    unlink(shot);
    unlink(err);
}

/* Same slots, new pixel format; then a bigger frame that makes the
 * producer move to a new region. The viewer follows both. */
static void test_format_change(void **state)
{
    char name[FBUS_NAME_MAX + 1], shot[256], err[256];
    struct pub p = {0};
    (void)state;

    tu_bus_name(name, sizeof(name), "vwchg");
    path_in_tmp(shot, sizeof(shot), "change.ppm");
    path_in_tmp(err, sizeof(err), "change.err");
    assert_int_equal(pub_open(&p, name, "yuv420p", 96, 48, bars_red), 0);
    pid_t pid = spawn_viewer(err, "--bus", name, "--screenshot-on-exit", shot, (char *)NULL);
    assert_true(pid > 0);
    assert_int_equal(pub_until_seen(&p, name, pid, 2), 0);
    assert_int_equal(pub_set(&p, "nv12", 96, 48, bars_green), 0);
    assert_int_equal(pub_until_seen(&p, name, pid, 3), 0);
    assert_int_equal(pub_set(&p, "rgb24", 160, 90, bars_blue), 0);
    assert_int_equal(pub_until_seen(&p, name, pid, 3), 0);
    kill(pid, SIGTERM);
    int status = tu_wait(pid, 15000);
    fbus_writer_close(p.w);
    tu_bus_cleanup(name);

    const char *log = slurp(err);
    if (status != 0)
        print_error("viewer stderr:\n%s", log);
    assert_int_equal(status, 0);
    assert_non_null(strstr(log, "format changed: 96x48 yuv420p -> 96x48 nv12"));
    assert_non_null(strstr(log, "format changed: 96x48 nv12 -> 160x90 rgb24"));
    check_bars(shot, "rgb24", 160, 90, bars_blue);
    unlink(shot);
    unlink(err);
}

struct child_arg {
    const char *name;
};

/* A producer in a child process that publishes red until it is killed. */
static int red_producer(void *arg)
{
    const struct child_arg *a = arg;
    struct pub p = {0};

    if (pub_open(&p, a->name, "yuv420p", 96, 48, bars_red) < 0)
        return 1;
    for (;;) {
        if (pub_one(&p) < 0)
            return 2;
        tu_sleep_ms(5);
    }
}

static void test_producer_killed_and_replaced(void **state)
{
    char name[FBUS_NAME_MAX + 1], shot[256], err[256];
    struct child_arg a;
    struct pub p = {0};
    (void)state;

    tu_bus_name(name, sizeof(name), "vwkill");
    path_in_tmp(shot, sizeof(shot), "kill.ppm");
    path_in_tmp(err, sizeof(err), "kill.err");
    a.name = name;
    pid_t prod = tu_fork(red_producer, &a, 30);
    assert_true(prod > 0);
    pid_t pid = spawn_viewer(err, "--bus", name, "--screenshot-on-exit", shot, (char *)NULL);
    assert_true(pid > 0);

    long n = -1;
    for (int i = 0; i < 1000 && n < 2; i++, tu_sleep_ms(10))
        n = reader_frames(name, pid);
    assert_true(n >= 2);
    kill(prod, SIGKILL);
    assert_int_equal(tu_wait(prod, 5000), 128 + SIGKILL);

    /* A new producer takes the name over and shows blue. */
    assert_int_equal(pub_open(&p, name, "yuv444p", 64, 64, bars_blue), 0);
    assert_int_equal(pub_until_seen(&p, name, pid, 3), 0);
    assert_int_equal(try_wait(pid), -1); /* the viewer is still running */
    kill(pid, SIGTERM);
    int status = tu_wait(pid, 15000);
    fbus_writer_close(p.w);
    tu_bus_cleanup(name);

    const char *log = slurp(err);
    if (status != 0)
        print_error("viewer stderr:\n%s", log);
    assert_int_equal(status, 0);
    const char *first = strstr(log, "producer found");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, "producer found"));
    check_bars(shot, "yuv444p", 64, 64, bars_blue);
    unlink(shot);
    unlink(err);
}

static void test_waits_for_bus(void **state)
{
    char name[FBUS_NAME_MAX + 1], shot[256], err[256], want[160];
    struct pub p = {0};
    (void)state;

    tu_bus_name(name, sizeof(name), "vwwait");
    path_in_tmp(shot, sizeof(shot), "wait.ppm");
    path_in_tmp(err, sizeof(err), "wait.err");
    /* With the overlay on: it is drawn over the window, not into the
     * frame, so the screenshot still holds the frame alone. */
    pid_t pid = spawn_viewer(err, name, "--overlay", "--screenshot-on-exit", shot, (char *)NULL);
    assert_true(pid > 0);
    snprintf(want, sizeof(want), "framebus-viewer: bus \"%s\": waiting for a producer\n", name);
    for (int i = 0; i < 500 && !strstr(slurp(err), want); i++)
        tu_sleep_ms(10);
    assert_non_null(strstr(slurp(err), want));
    tu_sleep_ms(200);
    assert_int_equal(try_wait(pid), -1);

    assert_int_equal(pub_open(&p, name, "bgr24", 80, 40, bars_green), 0);
    assert_int_equal(pub_until_seen(&p, name, pid, 2), 0);
    kill(pid, SIGINT);
    int status = tu_wait(pid, 15000);
    fbus_writer_close(p.w);
    tu_bus_cleanup(name);
    if (status != 0)
        print_error("viewer stderr:\n%s", slurp(err));
    assert_int_equal(status, 0);
    check_bars(shot, "bgr24", 80, 40, bars_green);
    unlink(shot);
    unlink(err);
}

/* The viewer goes on after its producer ends, and shows the next one. */
static void test_producer_ends_and_returns(void **state)
{
    char name[FBUS_NAME_MAX + 1], shot[256], err[256];
    struct pub p = {0};
    (void)state;

    tu_bus_name(name, sizeof(name), "vwend");
    path_in_tmp(shot, sizeof(shot), "end.ppm");
    path_in_tmp(err, sizeof(err), "end.err");
    assert_int_equal(pub_open(&p, name, "nv12", 64, 32, bars_red), 0);
    pid_t pid = spawn_viewer(err, "--bus", name, "--screenshot-on-exit", shot, (char *)NULL);
    assert_true(pid > 0);
    assert_int_equal(pub_until_seen(&p, name, pid, 2), 0);
    fbus_writer_close(p.w);
    p.w = NULL;
    for (int i = 0; i < 500 && !strstr(slurp(err), "producer ended the stream"); i++)
        tu_sleep_ms(10);
    assert_non_null(strstr(slurp(err), "producer ended the stream; keeping the last frame"));
    assert_int_equal(try_wait(pid), -1);

    assert_int_equal(pub_open(&p, name, "uyvy422", 64, 32, bars_a), 0);
    assert_int_equal(pub_until_seen(&p, name, pid, 2), 0);
    kill(pid, SIGTERM);
    int status = tu_wait(pid, 15000);
    fbus_writer_close(p.w);
    tu_bus_cleanup(name);
    if (status != 0)
        print_error("viewer stderr:\n%s", slurp(err));
    assert_int_equal(status, 0);
    check_bars(shot, "uyvy422", 64, 32, bars_a);
    unlink(shot);
    unlink(err);
}

static void test_several_viewers(void **state)
{
    enum { N = 3 };
    char name[FBUS_NAME_MAX + 1], shot[N][256], err[N][256];
    pid_t pid[N];
    int status[N];
    struct pub p = {0};
    (void)state;

    tu_bus_name(name, sizeof(name), "vwmany");
    assert_int_equal(pub_open(&p, name, "yuv420p", 96, 48, bars_a), 0);
    for (int i = 0; i < N; i++) {
        path_in_tmp(shot[i], sizeof(shot[i]), "many%d.ppm", i);
        path_in_tmp(err[i], sizeof(err[i]), "many%d.err", i);
        pid[i] = spawn_viewer(err[i], "--bus", name, "--frames", "5", "--screenshot-on-exit",
                              shot[i], i == 1 ? "--lossless" : "--no-vsync", (char *)NULL);
        assert_true(pid[i] > 0);
        status[i] = -1;
    }
    int64_t end = tu_now_ns() + 20 * TU_SEC;
    for (int left = N; left > 0 && tu_now_ns() < end;) {
        assert_int_equal(pub_one(&p), 0);
        tu_sleep_ms(5);
        left = 0;
        for (int i = 0; i < N; i++) {
            if (status[i] == -1)
                status[i] = try_wait(pid[i]);
            left += status[i] == -1;
        }
    }
    fbus_writer_close(p.w);
    for (int i = 0; i < N; i++) {
        if (status[i] == -1)
            status[i] = tu_wait(pid[i], 1000);
        if (status[i] != 0)
            print_error("viewer %d stderr:\n%s", i, slurp(err[i]));
    }
    tu_bus_cleanup(name);
    for (int i = 0; i < N; i++) {
        assert_int_equal(status[i], 0);
        check_bars(shot[i], "yuv420p", 96, 48, bars_a);
        unlink(shot[i]);
        unlink(err[i]);
    }
}

/* Run the viewer to completion; its exit status, stderr in *log. */
static int run_viewer(const char **log, ...)
{
    char err[256];
    char *argv[16];
    int n = 0;
    va_list ap;

    path_in_tmp(err, sizeof(err), "run.err");
    argv[n++] = (char *)VIEWER;
    argv[n++] = (char *)"--headless";
    va_start(ap, log);
    for (const char *a; n < 15 && (a = va_arg(ap, const char *));)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        execv(VIEWER, argv);
        _exit(127);
    }
    int status = tu_wait(pid, 30000);
    *log = slurp(err);
    unlink(err);
    return status;
}

static void test_errors(void **state)
{
    const char *log;
    char name[FBUS_NAME_MAX + 1], want[256];
    (void)state;

    /* A bad name is a runtime error (1), as in the framebus command. */
    assert_int_equal(run_viewer(&log, "--bus", "bad/name", (char *)NULL), 1);
    assert_string_equal(log, "framebus-viewer: bus \"bad/name\": invalid bus name (use 1-64 "
                             "characters of A-Z a-z 0-9 . _ -)\n");

    assert_int_equal(run_viewer(&log, "--frobnicate", (char *)NULL), 2);
    assert_string_equal(log, "framebus-viewer: unknown option --frobnicate (see --help)\n");

    assert_int_equal(run_viewer(&log, "--transport", "tcp", (char *)NULL), 2);
    assert_int_equal(count_lines(log), 1);

    /* --frames 0 would wait forever for nothing: refused. */
    assert_int_equal(run_viewer(&log, "--frames", "0", (char *)NULL), 2);
    assert_string_equal(log, "framebus-viewer: --frames wants a count of 1 or more, not \"0\" "
                             "(see --help)\n");

    /* A repeated bus name is an error, not silently the last one. */
    assert_int_equal(run_viewer(&log, "one", "two", (char *)NULL), 2);
    assert_int_equal(count_lines(log), 1);
    assert_int_equal(run_viewer(&log, "--bus", "one", "two", (char *)NULL), 2);
    assert_int_equal(count_lines(log), 1);

    /* Nobody comes: --timeout bounds the wait. */
    tu_bus_name(name, sizeof(name), "vwnone");
    assert_int_equal(run_viewer(&log, "--bus", name, "--timeout", "0.3", (char *)NULL), 1);
    snprintf(want, sizeof(want), "framebus-viewer: bus \"%s\": no producer within 0.3 s\n", name);
    assert_non_null(strstr(log, want));

    /* --timeout 0 is "at once", as in framebus cat, not "forever". */
    int64_t t0 = tu_now_ns();
    assert_int_equal(run_viewer(&log, "--bus", name, "--timeout", "0", (char *)NULL), 1);
    assert_true(tu_now_ns() - t0 < 20 * TU_SEC); /* run_viewer kills it after 30 s */
    snprintf(want, sizeof(want), "framebus-viewer: bus \"%s\": no producer within 0 s\n", name);
    assert_non_null(strstr(log, want));

    /* A region that is not a framebus region at all. */
    char shm[80];
    tu_bus_name(name, sizeof(name), "vwhostile");
    snprintf(shm, sizeof(shm), "/framebus.%s", name);
    int fd = shm_open(shm, O_CREAT | O_EXCL | O_RDWR, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 65536), 0);
    uint8_t *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    memset(m, 0xA5, 65536);
    munmap(m, 65536);
    close(fd);
    int status = run_viewer(&log, "--bus", name, (char *)NULL);
    shm_unlink(shm);
    assert_int_equal(status, 1);
    snprintf(want, sizeof(want),
             "framebus-viewer: bus \"%s\": bus region is corrupt or not a "
             "framebus region (refusing to read it)\n",
             name);
    assert_non_null(strstr(log, want));
    assert_null(strstr(log, "shown")); /* one line, no summary */

    /* A live bus whose object belongs to another user (root can chown it
     * there): read by default, refused with --same-user. */
    if (geteuid() == 0) {
        fbus_format gfmt;
        fbus_writer_opts wo = {.format = &gfmt};
        fbus_writer *w = NULL;
        char path[128];

        tu_bus_name(name, sizeof(name), "vwowner");
        assert_int_equal(fbus_format_init(&gfmt, "gray", 64, 48, 0), 0);
        assert_int_equal(fbus_writer_open(name, &wo, &w), 0);
        assert_int_equal(tu_publish(w, &gfmt, TU_SEC, NULL), 0);
        snprintf(path, sizeof(path), "/dev/shm/framebus.%s", name);
        assert_int_equal(chown(path, 65534, 65534), 0);
        status = run_viewer(&log, "--bus", name, "--same-user", "--headless", (char *)NULL);
        assert_int_equal(status, 1);
        snprintf(want, sizeof(want),
                 "framebus-viewer: bus \"%s\": bus belongs to another user (refused: "
                 "--same-user)\n",
                 name);
        assert_non_null(strstr(log, want));
        status = run_viewer(&log, "--bus", name, "--headless", "--frames", "1", (char *)NULL);
        assert_int_equal(status, 0);
        fbus_writer_close(w);
        tu_bus_cleanup(name);
    }

    /* Permission denied (root reads anything, so only as a normal user). */
    if (geteuid() != 0) {
        tu_bus_name(name, sizeof(name), "vwperm");
        snprintf(shm, sizeof(shm), "/framebus.%s", name);
        fd = shm_open(shm, O_CREAT | O_EXCL | O_RDWR, 0000);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 65536), 0);
        close(fd);
        status = run_viewer(&log, "--bus", name, (char *)NULL);
        shm_unlink(shm);
        assert_int_equal(status, 1);
        assert_int_equal(count_lines(log), 1);
        assert_non_null(strstr(log, "Permission denied"));
    }
}

/* DISPLAY names no server: an error, not a window nobody can see. */
static void test_display_unreachable(void **state)
{
    char err[256];
    (void)state;

    path_in_tmp(err, sizeof(err), "display.err");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        setenv("DISPLAY", ":999", 1);
        unsetenv("WAYLAND_DISPLAY");
        unsetenv("SDL_VIDEODRIVER");
        /* SDL's X11 start-up leaves a libdbus allocation behind. */
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
        execl(VIEWER, VIEWER, "--bus", "nobody-here", (char *)NULL);
        _exit(127);
    }
    assert_int_equal(tu_wait(pid, 30000), 1);
    const char *log = slurp(err);
    assert_int_equal(count_lines(log), 1);
    assert_non_null(strstr(log, "framebus-viewer: cannot open display :999: "));
    assert_non_null(strstr(log, "(try --headless)\n"));
    unlink(err);
}

/* Run the viewer with one argument, stdout to a file: its exit status and
 * stdout. */
static int run_stdout(const char *arg, const char **text)
{
    char out[256];

    path_in_tmp(out, sizeof(out), "stdout.txt");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execl(VIEWER, VIEWER, arg, (char *)NULL);
        _exit(127);
    }
    int status = tu_wait(pid, 30000);
    *text = slurp(out);
    unlink(out);
    return status;
}

static void test_help(void **state)
{
    const char *text;
    char want[64];
    (void)state;

    assert_int_equal(run_stdout("--help", &text), 0);
    assert_non_null(strstr(text, "Usage: framebus-viewer"));
    assert_non_null(strstr(text, "Examples:"));
    assert_non_null(strstr(text, "--lossless"));
    assert_non_null(strstr(text, "--version"));

    /* --version, like the framebus command: the program, the library and
     * the layout of the buses it can read. */
    snprintf(want, sizeof(want), " (libframebus %d.%d, bus layout %u)\n", FBUS_VERSION_MAJOR,
             FBUS_VERSION_MINOR, fbus_layout_version());
    assert_int_equal(run_stdout("--version", &text), 0);
    assert_true(!strncmp(text, "framebus-viewer ", 16));
    assert_non_null(strstr(text, want));
    assert_int_equal(run_stdout("-V", &text), 0);
    assert_non_null(strstr(text, want));
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fbus-viewer-test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_yuv420p),
        cmocka_unit_test(test_format_yuvj420p),
        cmocka_unit_test(test_format_nv12),
        cmocka_unit_test(test_format_nv21),
        cmocka_unit_test(test_format_yuyv422),
        cmocka_unit_test(test_format_uyvy422),
        cmocka_unit_test(test_format_rgb24),
        cmocka_unit_test(test_format_bgr24),
        cmocka_unit_test(test_format_rgba),
        cmocka_unit_test(test_format_bgra),
        cmocka_unit_test(test_format_argb),
        cmocka_unit_test(test_format_abgr),
        cmocka_unit_test(test_format_rgb0),
        cmocka_unit_test(test_format_bgr0),
        cmocka_unit_test(test_format_0rgb),
        cmocka_unit_test(test_format_0bgr),
        cmocka_unit_test(test_format_gray),
        cmocka_unit_test(test_format_gray16le),
        cmocka_unit_test(test_format_yuv422p),
        cmocka_unit_test(test_format_yuv444p),
        cmocka_unit_test(test_format_yuv420p10le),
        cmocka_unit_test(test_format_p010le),
        cmocka_unit_test(test_sysv_transport),
        cmocka_unit_test(test_undisplayable_format),
        cmocka_unit_test(test_format_change),
        cmocka_unit_test(test_producer_killed_and_replaced),
        cmocka_unit_test(test_waits_for_bus),
        cmocka_unit_test(test_producer_ends_and_returns),
        cmocka_unit_test(test_several_viewers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_display_unreachable),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_screenshots),
        cmocka_unit_test(test_pattern_colours_hd),
        cmocka_unit_test(test_pattern_colours_sd),
        cmocka_unit_test(test_tagged_bt709),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
