/* SPDX-License-Identifier: MIT */
/*
 * The viewer's keys, pressed for real: the viewer runs in a window on a
 * private Xvfb server and this test sends it X key events (q, Esc, space,
 * s, f), and where fullscreen puts the picture on a screen with no window
 * manager. CMake registers it only when Xvfb is installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/keysym.h>
#include <cmocka.h>

#include "framebus/framebus.h"
#include "testutil.h"

#define VIEWER FBUS_TEST_BINDIR "/viewer/framebus-viewer"

static pid_t xvfb_pid = -1;
static char display_name[32];
static Display *dpy;
static char tmpdir[64];

struct pub {
    fbus_writer *w;
    fbus_format fmt;
    int32_t sar_num, sar_den;
};

static int pub_one(struct pub *p)
{
    fbus_slot s;
    fbus_meta meta;
    int rc = fbus_writer_acquire(p->w, &p->fmt, 5 * TU_SEC, &s);

    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < s.format.nb_planes; i++)
        memset(s.data[i], i ? 128 : 100,
               (size_t)s.format.planes[i].stride * s.format.planes[i].rows);
    memset(&meta, 0, sizeof(meta));
    meta.pts = INT64_MIN;
    meta.sar_num = p->sar_num;
    meta.sar_den = p->sar_den;
    return fbus_writer_publish(p->w, &s, &meta);
}

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

static int try_wait(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, WNOHANG) != pid)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

/* The top-level window whose title starts with "BUS:", or None. */
static Window find_window(Window w, const char *prefix)
{
    Window root, parent, *kids = NULL, found = None;
    unsigned n = 0;
    char *title = NULL;

    if (XFetchName(dpy, w, &title) && title) {
        int match = !strncmp(title, prefix, strlen(prefix));
        XFree(title);
        if (match)
            return w;
    }
    if (!XQueryTree(dpy, w, &root, &parent, &kids, &n))
        return None;
    for (unsigned i = 0; i < n && found == None; i++)
        found = find_window(kids[i], prefix);
    if (kids)
        XFree(kids);
    return found;
}

/* The viewer's window disappears when it quits; a press that reaches a
 * destroyed window is not an error here. */
static int ignore_x_error(Display *d, XErrorEvent *e)
{
    (void)d;
    (void)e;
    return 0;
}

static void press(Window win, KeySym sym)
{
    XKeyEvent ev;

    memset(&ev, 0, sizeof(ev));
    ev.display = dpy;
    ev.window = win;
    ev.root = DefaultRootWindow(dpy);
    ev.subwindow = None;
    ev.time = CurrentTime;
    ev.same_screen = True;
    ev.keycode = XKeysymToKeycode(dpy, sym);
    ev.type = KeyPress;
    XSendEvent(dpy, win, True, KeyPressMask, (XEvent *)&ev);
    ev.type = KeyRelease;
    XSendEvent(dpy, win, True, KeyReleaseMask, (XEvent *)&ev);
    XFlush(dpy);
}

struct session {
    char name[FBUS_NAME_MAX + 1];
    struct pub p;
    pid_t pid;
    Window win;
};

/* Start a producer and a windowed viewer on it; wait until it shows frames
 * and its window is found. */
static void start_sized(struct session *s, const char *extra, int w, int h, int sar_num,
                        int sar_den)
{
    char prefix[FBUS_NAME_MAX + 2];

    if (!dpy)
        fail_msg("the private Xvfb did not start");
    memset(s, 0, sizeof(*s));
    tu_bus_name(s->name, sizeof(s->name), "vwkey");
    assert_int_equal(fbus_format_init(&s->p.fmt, "yuv420p", (uint32_t)w, (uint32_t)h, 0), 0);
    s->p.sar_num = sar_num;
    s->p.sar_den = sar_den;
    fbus_writer_opts o = {0};
    o.format = &s->p.fmt;
    assert_int_equal(fbus_writer_open(s->name, &o, &s->p.w), 0);
    s->pid = fork();
    if (s->pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        dup2(nul, 2);
        setenv("DISPLAY", display_name, 1);
        /* On X11, SDL's libdbus and the GL driver it loads keep a few
         * allocations to the end; LeakSanitizer would fail the viewer for
         * them. The headless tests check the viewer's own code for leaks. */
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
        unsetenv("WAYLAND_DISPLAY");
        execl(VIEWER, VIEWER, "--bus", s->name, "--screenshot-dir", tmpdir, "--timeout", "30",
              extra, (char *)NULL);
        _exit(127);
    }
    assert_true(s->pid > 0);
    snprintf(prefix, sizeof(prefix), "%s:", s->name);
    for (int i = 0; i < 1500 && (s->win == None || reader_frames(s->name, s->pid) < 2); i++) {
        assert_int_equal(pub_one(&s->p), 0);
        if (s->win == None)
            s->win = find_window(DefaultRootWindow(dpy), prefix);
        tu_sleep_ms(10);
    }
    assert_true(s->win != None);
    assert_true(reader_frames(s->name, s->pid) >= 2);
    XSetInputFocus(dpy, s->win, RevertToParent, CurrentTime);
    XSync(dpy, False);
}

static void start(struct session *s, const char *extra)
{
    start_sized(s, extra, 160, 90, 0, 0);
}

/* Keep publishing until the viewer exits (or 10 s): its exit status. A
 * key press sent while the window is still settling (focus, mapping) may
 * be lost, so `again` (if not NoSymbol) is pressed again every second. */
static int finish(struct session *s, KeySym again)
{
    int status = -1;

    for (int i = 0; i < 1000 && status == -1; i++) {
        if (again != NoSymbol && i % 100 == 99)
            press(s->win, again);
        pub_one(&s->p);
        tu_sleep_ms(10);
        status = try_wait(s->pid);
    }
    if (status == -1)
        status = tu_wait(s->pid, 0);
    fbus_writer_close(s->p.w);
    tu_bus_cleanup(s->name);
    return status;
}

static void test_q_quits(void **state)
{
    struct session s;
    (void)state;

    start(&s, "--no-vsync");
    press(s.win, XK_q);
    assert_int_equal(finish(&s, XK_q), 0);
}

static void test_escape_quits(void **state)
{
    struct session s;
    (void)state;

    start(&s, "--no-vsync");
    press(s.win, XK_Escape);
    assert_int_equal(finish(&s, XK_Escape), 0);
}

static void test_space_pauses(void **state)
{
    struct session s;
    (void)state;

    start(&s, "--no-vsync");
    press(s.win, XK_space);
    /* Once the pause is seen, no frame is taken however many are published. */
    long before = -1, after = -2;
    for (int i = 0; i < 100 && before != after; i++) {
        before = reader_frames(s.name, s.pid);
        for (int k = 0; k < 10; k++) {
            assert_int_equal(pub_one(&s.p), 0);
            tu_sleep_ms(10);
        }
        after = reader_frames(s.name, s.pid);
    }
    assert_int_equal(before, after);
    assert_int_equal(try_wait(s.pid), -1);
    press(s.win, XK_space); /* resume */
    long resumed = after;
    for (int i = 0; i < 500 && resumed < after + 2; i++) {
        assert_int_equal(pub_one(&s.p), 0);
        tu_sleep_ms(10);
        resumed = reader_frames(s.name, s.pid);
    }
    assert_true(resumed >= after + 2);
    press(s.win, XK_q);
    assert_int_equal(finish(&s, XK_q), 0);
}

static int count_pngs(int remove)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".png")) {
            char path[512];
            unsigned char sig[8] = {0};
            snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
            FILE *f = fopen(path, "rb");
            if (f) {
                if (fread(sig, 1, 8, f) == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8))
                    n++;
                fclose(f);
            }
            if (remove)
                unlink(path);
        }
    }
    closedir(d);
    return n;
}

static void test_s_saves_screenshot(void **state)
{
    struct session s;
    (void)state;

    start(&s, "--no-vsync");
    press(s.win, XK_s);
    for (int i = 0; i < 500 && count_pngs(0) < 1; i++) {
        pub_one(&s.p);
        tu_sleep_ms(10);
    }
    assert_int_equal(count_pngs(1), 1);
    press(s.win, XK_q);
    assert_int_equal(finish(&s, XK_q), 0);
}

static void test_f_fullscreen_and_overlay(void **state)
{
    struct session s;
    (void)state;

    start(&s, "--no-vsync");
    press(s.win, XK_o); /* the stats overlay on, too */
    press(s.win, XK_f);
    long n = reader_frames(s.name, s.pid);
    for (int i = 0; i < 500 && reader_frames(s.name, s.pid) < n + 3; i++) {
        pub_one(&s.p);
        tu_sleep_ms(10);
    }
    assert_true(reader_frames(s.name, s.pid) >= n + 3); /* still showing frames */
    press(s.win, XK_f);
    press(s.win, XK_q);
    assert_int_equal(finish(&s, XK_q), 0);
}

/* ------------------------------------------------- fullscreen, no WM */

struct box {
    int x, y, w, h;
};

/* A screenshot of the whole screen: the box around the pixels that are
 * not black (the picture; the bars around it are black), or w = 0. */
static struct box picture_on_screen(void)
{
    Window root = DefaultRootWindow(dpy);
    XWindowAttributes ra;
    struct box b = {0, 0, 0, 0};
    int x0 = INT32_MAX, y0 = INT32_MAX, x1 = -1, y1 = -1;

    XSync(dpy, False);
    XGetWindowAttributes(dpy, root, &ra);
    XImage *im =
        XGetImage(dpy, root, 0, 0, (unsigned)ra.width, (unsigned)ra.height, AllPlanes, ZPixmap);
    if (!im)
        return b;
    for (int y = 0; y < ra.height; y++) {
        for (int x = 0; x < ra.width; x++) {
            unsigned long px = XGetPixel(im, x, y);
            int r = (int)((px >> 16) & 255), g = (int)((px >> 8) & 255), bl = (int)(px & 255);
            if (r > 40 || g > 40 || bl > 40) {
                x0 = x < x0 ? x : x0;
                y0 = y < y0 ? y : y0;
                x1 = x > x1 ? x : x1;
                y1 = y > y1 ? y : y1;
            }
        }
    }
    XDestroyImage(im);
    if (x1 >= 0)
        b = (struct box){x0, y0, x1 - x0 + 1, y1 - y0 + 1};
    return b;
}

static int near(int a, int b)
{
    return abs(a - b) <= 2;
}

/* Publish frames until the picture on screen is `want` (±2 pixels; the
 * window settles over a few frames) or 10 s passed; returns what is there. */
static struct box wait_for_picture(struct session *s, struct box want)
{
    struct box b = {0, 0, 0, 0};

    for (int i = 0; i < 100; i++) {
        pub_one(&s->p);
        tu_sleep_ms(100);
        b = picture_on_screen();
        if (near(b.x, want.x) && near(b.y, want.y) && near(b.w, want.w) && near(b.h, want.h))
            break;
    }
    print_message("picture at %d,%d %dx%d (want %d,%d %dx%d)\n", b.x, b.y, b.w, b.h, want.x, want.y,
                  want.w, want.h);
    return b;
}

static void assert_box(struct box b, struct box want)
{
    assert_true(near(b.x, want.x));
    assert_true(near(b.y, want.y));
    assert_true(near(b.w, want.w));
    assert_true(near(b.h, want.h));
}

/* The private Xvfb runs no window manager (a kiosk). --fullscreen fills
 * the 800x600 screen, letterboxed with the frame's pixel aspect: 720x576
 * at 64:45 is 16:9, so 800x450 with bars of 75 above and below (not a
 * 640x360 window with a zoomed, cropped picture). */
static void test_fullscreen_without_wm(void **state)
{
    struct session s;
    (void)state;

    start_sized(&s, "--fullscreen", 720, 576, 64, 45);
    assert_box(wait_for_picture(&s, (struct box){0, 75, 800, 450}), (struct box){0, 75, 800, 450});
    press(s.win, XK_q);
    assert_int_equal(finish(&s, XK_q), 0);
}

/* f goes fullscreen and back, to the window as it was. */
static void test_f_toggles_without_wm(void **state)
{
    struct session s;
    (void)state;

    /* 320x240 at 1:1 is a 320x240 window in the middle of the screen. */
    start_sized(&s, "--no-vsync", 320, 240, 0, 0);
    struct box win = {240, 180, 320, 240};
    assert_box(wait_for_picture(&s, win), win);
    press(s.win, XK_f);
    /* 4:3 fills 800x600 exactly. */
    assert_box(wait_for_picture(&s, (struct box){0, 0, 800, 600}), (struct box){0, 0, 800, 600});
    press(s.win, XK_f);
    assert_box(wait_for_picture(&s, win), win);
    press(s.win, XK_q);
    assert_int_equal(finish(&s, XK_q), 0);
}

static int setup(void **state)
{
    int fds[2];
    char buf[16] = {0};
    (void)state;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fbus-viewer-keys.XXXXXX");
    if (!mkdtemp(tmpdir) || pipe(fds) < 0)
        return -1;
    xvfb_pid = fork();
    if (xvfb_pid == 0) {
        char fd[16];
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        dup2(nul, 2);
        signal(SIGPIPE, SIG_DFL);
        close(fds[0]);
        snprintf(fd, sizeof(fd), "%d", fds[1]);
        execlp("Xvfb", "Xvfb", "-displayfd", fd, "-screen", "0", "800x600x24", "-nolisten", "tcp",
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    /* Xvfb writes its display number, a newline, then closes the pipe;
     * read to the end, or its second write fails and it gives up. */
    struct pollfd pfd = {fds[0], POLLIN, 0};
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof(buf) - 1 && poll(&pfd, 1, 10000) == 1 &&
           (r = read(fds[0], buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
        n += r;
    close(fds[0]);
    if (n <= 0) {
        print_message("Xvfb did not start (n=%zd)\n", n);
        return 0; /* each test fails, saying so */
    }
    buf[strcspn(buf, "\n")] = '\0';
    snprintf(display_name, sizeof(display_name), ":%s", buf);
    /* The server may still be setting up after it wrote its number. */
    for (int i = 0; i < 100 && !dpy; i++) {
        dpy = XOpenDisplay(display_name);
        if (!dpy)
            tu_sleep_ms(50);
    }
    if (dpy)
        XSetErrorHandler(ignore_x_error);
    else
        print_message("cannot open Xvfb display %s (Xvfb: %d)\n", display_name, try_wait(xvfb_pid));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (dpy)
        XCloseDisplay(dpy);
    if (xvfb_pid > 0) {
        kill(xvfb_pid, SIGTERM);
        tu_wait(xvfb_pid, 5000);
    }
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q_quits),
        cmocka_unit_test(test_escape_quits),
        cmocka_unit_test(test_space_pauses),
        cmocka_unit_test(test_s_saves_screenshot),
        cmocka_unit_test(test_f_fullscreen_and_overlay),
        cmocka_unit_test(test_fullscreen_without_wm),
        cmocka_unit_test(test_f_toggles_without_wm),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
