/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of the GStreamer plugin: real pipelines run in this
 * process (so the sanitizers see the plugin), with framebus-producer,
 * `framebus cat` and ffmpeg as separate processes where a test needs them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "framebus/framebus.h"
#include "testutil.h"

#define PRODUCER FBUS_TEST_BINDIR "/producer/framebus-producer"
#define FRAMEBUS FBUS_TEST_BINDIR "/tools/framebus"

static char tmpdir[256];
static char bus[FBUS_NAME_MAX + 1];

/* ---------------------------------------------------------------- helpers */

static pid_t spawn(const char *out_path, const char *arg0, ...)
{
    const char *argv[32];
    va_list ap;
    int n = 0;
    pid_t pid;

    argv[n++] = arg0;
    va_start(ap, arg0);
    while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        if (out_path) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || dup2(fd, 1) < 0)
                _exit(126);
            close(fd);
        }
        alarm(120);
        execv(arg0, (char *const *)argv);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

static int wait_child(pid_t pid, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        g_usleep(10000);
    }
}

static char *path_in_tmp(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static GstElement *launch(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static GstElement *launch(const char *fmt, ...)
{
    GError *err = NULL;
    va_list ap;
    gchar *desc;
    GstElement *p;

    va_start(ap, fmt);
    desc = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    p = gst_parse_launch(desc, &err);
    if (!p || err)
        fail_msg("cannot parse \"%s\": %s", desc, err ? err->message : "?");
    g_free(desc);
    return p;
}

/* Wait for EOS (1) or an error (-1, *msg gets its text) or time out (0). */
static int wait_end(GstElement *p, int timeout_ms, gchar **msg)
{
    GstBus *b = gst_element_get_bus(p);
    GstMessage *m = gst_bus_timed_pop_filtered(b, (GstClockTime)timeout_ms * GST_MSECOND,
                                               GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    int rc = 0;

    if (m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
        rc = 1;
    } else if (m) {
        GError *e = NULL;
        gst_message_parse_error(m, &e, NULL);
        if (msg)
            *msg = g_strdup(e->message);
        g_error_free(e);
        rc = -1;
    }
    if (m)
        gst_message_unref(m);
    gst_object_unref(b);
    return rc;
}

static void play(GstElement *p)
{
    assert_int_not_equal(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
}

static void stop(GstElement *p)
{
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
}

/* Run a pipeline to its end: 1 EOS, -1 error (msg), 0 timeout. */
static int run(int timeout_ms, gchar **msg, const char *desc)
{
    GstElement *p = launch("%s", desc);
    int rc;

    /* A failing start makes the state change fail: the message says why. */
    gst_element_set_state(p, GST_STATE_PLAYING);
    rc = wait_end(p, timeout_ms, msg);
    stop(p);
    return rc;
}

static guint64 get_u64(GstElement *p, const char *elem, const char *prop)
{
    GstElement *e = gst_bin_get_by_name(GST_BIN(p), elem);
    guint64 v = 0;

    assert_non_null(e);
    g_object_get(e, prop, &v, NULL);
    gst_object_unref(e);
    return v;
}

/* MD5 of a sample's picture, repacked into GStreamer's default layout (the
 * test sizes have no row padding there), so any strides compare equal. */
static gchar *sample_md5(GstSample *s, gchar **caps_out)
{
    GstCaps *caps = gst_sample_get_caps(s);
    GstVideoInfo info, packed;
    GstVideoFrame in, out;
    GstBuffer *buf;
    gchar *md5;

    assert_true(gst_video_info_from_caps(&info, caps));
    gst_video_info_set_format(&packed, GST_VIDEO_INFO_FORMAT(&info), GST_VIDEO_INFO_WIDTH(&info),
                              GST_VIDEO_INFO_HEIGHT(&info));
    buf = gst_buffer_new_allocate(NULL, packed.size, NULL);
    assert_true(gst_video_frame_map(&in, &info, gst_sample_get_buffer(s), GST_MAP_READ));
    assert_true(gst_video_frame_map(&out, &packed, buf, GST_MAP_WRITE));
    assert_true(gst_video_frame_copy(&out, &in));
    gst_video_frame_unmap(&in);
    gst_video_frame_unmap(&out);
    {
        GstMapInfo mi;
        gst_buffer_map(buf, &mi, GST_MAP_READ);
        md5 = g_compute_checksum_for_data(G_CHECKSUM_MD5, mi.data, mi.size);
        gst_buffer_unmap(buf, &mi);
    }
    gst_buffer_unref(buf);
    if (caps_out)
        *caps_out =
            g_strdup_printf("%s %dx%d", gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info)),
                            info.width, info.height);
    return md5;
}

/* Every sample an appsink named "out" holds, as "md5" strings. */
static GPtrArray *pull_all(GstElement *p, int timeout_ms, GPtrArray *caps_list)
{
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "out");
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    GstSample *s;

    while ((s = gst_app_sink_try_pull_sample(GST_APP_SINK(sink),
                                             (GstClockTime)timeout_ms * GST_MSECOND))) {
        gchar *caps = NULL;
        g_ptr_array_add(out, sample_md5(s, caps_list ? &caps : NULL));
        if (caps_list)
            g_ptr_array_add(caps_list, caps);
        gst_sample_unref(s);
    }
    gst_object_unref(sink);
    return out;
}

/* Frames of a y4m file: MD5 of each frame's bytes. */
static GPtrArray *y4m_md5s(const char *path, size_t frame_size)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    gchar *data;
    gsize len, i;

    assert_true(g_file_get_contents(path, &data, &len, NULL));
    i = (gsize)(strchr(data, '\n') - data) + 1;
    while (i < len) {
        assert_memory_equal(data + i, "FRAME", 5);
        i = (gsize)((char *)memchr(data + i, '\n', len - i) - data) + 1;
        assert_true(i + frame_size <= len);
        g_ptr_array_add(
            out, g_compute_checksum_for_data(G_CHECKSUM_MD5, (const guchar *)data + i, frame_size));
        i += frame_size;
    }
    g_free(data);
    return out;
}

static void assert_same_frames(GPtrArray *got, GPtrArray *want)
{
    assert_int_equal(got->len, want->len);
    for (guint i = 0; i < got->len; i++)
        if (strcmp(g_ptr_array_index(got, i), g_ptr_array_index(want, i)) != 0)
            fail_msg("frame %u differs: %s, expected %s", i + 1, (char *)g_ptr_array_index(got, i),
                     (char *)g_ptr_array_index(want, i));
}

/* Whether addr lies in this process's shared mapping of the posix bus
 * `name` (a writer maps its region under a temporary name, then links it). */
static gboolean in_bus_mapping(const void *addr, const char *name)
{
    gchar *maps, *needle = g_strdup_printf("/dev/shm/framebus.%s", name);
    gchar *tmp = g_strdup_printf("/dev/shm/framebus-tmp.%d.", (int)getpid());
    gboolean found = FALSE;

    assert_true(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
    char *save = NULL;

    /* strtok_r: the probes of two pipelines call this at the same time. */
    for (char *line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        uintptr_t lo, hi;
        const char *path = strchr(line, '/');
        const char *perms = strchr(line, ' ');
        /* "rw-s": the fourth permission letter says MAP_SHARED. */
        size_t nl = strlen(needle);
        /* The writer may have removed the name by now (the stream ended):
         * the kernel then lists the mapping as "... (deleted)". */
        int named = strncmp(path ? path : "", needle, nl) == 0 &&
                    (path[nl] == '\0' || strcmp(path + nl, " (deleted)") == 0);
        if (!path || !perms || strlen(perms) < 5 || perms[4] != 's' ||
            (!named && strncmp(path, tmp, strlen(tmp)) != 0))
            continue;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 && (uintptr_t)addr >= lo &&
            (uintptr_t)addr < hi)
            found = TRUE;
    }
    g_free(maps);
    g_free(needle);
    g_free(tmp);
    return found;
}

#define VTS                                                                                        \
    "videotestsrc pattern=ball num-buffers=%d ! "                                                  \
    "video/x-raw,format=%s,width=%d,height=%d,framerate=30/1"

static GPtrArray *reference(int n, const char *format, int w, int h)
{
    GstElement *p = launch(VTS " ! appsink name=out sync=false wait-on-eos=false", n, format, w, h);
    GPtrArray *md5s;

    play(p);
    assert_int_equal(wait_end(p, 30000, NULL), 1);
    md5s = pull_all(p, 0, NULL);
    stop(p);
    assert_int_equal(md5s->len, n);
    return md5s;
}

/* ---------------------------------------------------------------- fixture */

static int setup(void **state)
{
    tu_bus_name(bus, sizeof(bus), "gst");
    return 0;
}

static int teardown(void **state)
{
    tu_bus_cleanup(bus);
    return 0;
}

/* ---------------------------------------------------------------- tests */

/* videotestsrc -> framebussink -> `framebus cat --y4m` is, frame for frame,
 * what y4menc makes of the same videotestsrc; videotestsrc drew into the
 * sink's slots (nothing was copied). */
static void test_sink_to_cat(void **state)
{
    gchar *got = path_in_tmp("cat.y4m"), *want = path_in_tmp("ref.y4m");
    gchar *msg = NULL;
    GstElement *p;
    pid_t cat = spawn(got, FRAMEBUS, "cat", bus, "--y4m", "--timeout", "30", NULL);

    p = launch(VTS " ! framebussink name=s bus=%s sync=false wait-readers=1", 30, "I420", 320, 240,
               bus);
    play(p);
    assert_int_equal(wait_end(p, 30000, &msg), 1);
    assert_int_equal(get_u64(p, "s", "published"), 30);
    assert_int_equal(get_u64(p, "s", "copied"), 0);
    stop(p);
    assert_int_equal(wait_child(cat, 10000), 0);

    p = launch(VTS " ! y4menc ! filesink location=%s", 30, "I420", 320, 240, want);
    play(p);
    assert_int_equal(wait_end(p, 30000, NULL), 1);
    stop(p);
    {
        GPtrArray *a = y4m_md5s(got, 320 * 240 * 3 / 2), *b = y4m_md5s(want, 320 * 240 * 3 / 2);
        assert_same_frames(a, b);
        g_ptr_array_unref(a);
        g_ptr_array_unref(b);
    }
    g_free(got);
    g_free(want);
}

/* With zero-copy=false every frame is copied, with the same pixels. */
static void test_sink_copy_path(void **state)
{
    GstElement *src, *p;
    GPtrArray *want = reference(10, "I420", 320, 240), *got;

    src = launch("framebussrc bus=%s policy=lossless timeout=20000000000 ! "
                 "appsink name=out sync=false wait-on-eos=false",
                 bus);
    play(src);
    p = launch(VTS " ! framebussink name=s bus=%s sync=false zero-copy=false wait-readers=1", 10,
               "I420", 320, 240, bus);
    play(p);
    assert_int_equal(wait_end(p, 30000, NULL), 1);
    assert_int_equal(get_u64(p, "s", "copied"), 10);
    stop(p);
    assert_int_equal(wait_end(src, 30000, NULL), 1);
    got = pull_all(src, 0, NULL);
    stop(src);
    assert_same_frames(got, want);
    g_ptr_array_unref(got);
    g_ptr_array_unref(want);
}

/* low-latency=true: the same frames, every one, in order. */
static void test_src_low_latency(void **state)
{
    GstElement *src, *p;
    GPtrArray *want = reference(10, "I420", 320, 240), *got;
    GstElement *e;
    gboolean ll = FALSE;

    src = launch("framebussrc name=src bus=%s policy=lossless low-latency=true "
                 "timeout=20000000000 ! appsink name=out sync=false wait-on-eos=false",
                 bus);
    e = gst_bin_get_by_name(GST_BIN(src), "src");
    g_object_get(e, "low-latency", &ll, NULL);
    gst_object_unref(e);
    assert_true(ll);
    play(src);
    p = launch(VTS " ! framebussink bus=%s sync=false wait-readers=1", 10, "I420", 320, 240, bus);
    play(p);
    assert_int_equal(wait_end(p, 30000, NULL), 1);
    stop(p);
    assert_int_equal(wait_end(src, 30000, NULL), 1);
    got = pull_all(src, 0, NULL);
    stop(src);
    assert_same_frames(got, want);
    g_ptr_array_unref(got);
    g_ptr_array_unref(want);
}

/* Sink -> src round trips, byte for byte, for an RGB and an NV12 format. */
static void roundtrip(const char *format, int w, int h)
{
    GstElement *src, *p;
    GPtrArray *want = reference(12, format, w, h), *got;
    gchar *msg = NULL;

    src = launch("framebussrc bus=%s policy=lossless timeout=20000000000 ! "
                 "appsink name=out sync=false wait-on-eos=false",
                 bus);
    play(src);
    p = launch(VTS " ! framebussink bus=%s sync=false wait-readers=1", 12, format, w, h, bus);
    play(p);
    assert_int_equal(wait_end(p, 30000, &msg), 1);
    stop(p);
    /* The src ends by itself when the sink's stream ends. */
    assert_int_equal(wait_end(src, 30000, &msg), 1);
    got = pull_all(src, 0, NULL);
    stop(src);
    assert_same_frames(got, want);
    g_ptr_array_unref(got);
    g_ptr_array_unref(want);
}

static void test_roundtrip_bgrx(void **state)
{
    roundtrip("BGRx", 320, 240);
}

static void test_roundtrip_nv12(void **state)
{
    roundtrip("NV12", 320, 240);
}

/* Caps change mid-stream (size, then format): the bus carries the change in
 * band and the src renegotiates; every frame arrives with its own caps. */
static void test_caps_change(void **state)
{
    static const struct {
        const char *format;
        int w, h;
    } parts[] = {{"I420", 320, 240}, {"I420", 640, 480}, {"BGRx", 160, 120}};
    GstElement *src, *p, *appsrc;
    GPtrArray *want = g_ptr_array_new_with_free_func(g_free), *got, *caps;
    GPtrArray *want_caps = g_ptr_array_new_with_free_func(g_free);
    GstClockTime ts = 0;

    src = launch("framebussrc bus=%s policy=lossless timeout=20000000000 ! "
                 "appsink name=out sync=false wait-on-eos=false",
                 bus);
    play(src);
    p = launch("appsrc name=in format=time ! framebussink bus=%s sync=false wait-readers=1", bus);
    appsrc = gst_bin_get_by_name(GST_BIN(p), "in");
    play(p);
    for (guint k = 0; k < G_N_ELEMENTS(parts); k++) {
        GstElement *ref = launch(VTS " ! appsink name=out sync=false wait-on-eos=false", 4,
                                 parts[k].format, parts[k].w, parts[k].h);
        GstElement *rs;
        GstSample *s;

        play(ref);
        assert_int_equal(wait_end(ref, 30000, NULL), 1);
        rs = gst_bin_get_by_name(GST_BIN(ref), "out");
        while ((s = gst_app_sink_try_pull_sample(GST_APP_SINK(rs), 0))) {
            GstBuffer *b = gst_buffer_copy(gst_sample_get_buffer(s));
            GstSample *s2;
            gchar *c;

            g_ptr_array_add(want, sample_md5(s, &c));
            g_ptr_array_add(want_caps, c);
            GST_BUFFER_PTS(b) = ts;
            ts += 33 * GST_MSECOND;
            s2 = gst_sample_new(b, gst_sample_get_caps(s), NULL, NULL);
            assert_int_equal(gst_app_src_push_sample(GST_APP_SRC(appsrc), s2), GST_FLOW_OK);
            gst_sample_unref(s2);
            gst_buffer_unref(b);
            gst_sample_unref(s);
        }
        gst_object_unref(rs);
        stop(ref);
    }
    gst_app_src_end_of_stream(GST_APP_SRC(appsrc));
    assert_int_equal(wait_end(p, 30000, NULL), 1);
    gst_object_unref(appsrc);
    stop(p);
    assert_int_equal(wait_end(src, 30000, NULL), 1);
    caps = g_ptr_array_new_with_free_func(g_free);
    got = pull_all(src, 0, caps);
    stop(src);
    assert_same_frames(got, want);
    for (guint i = 0; i < caps->len; i++)
        assert_string_equal(g_ptr_array_index(caps, i), g_ptr_array_index(want_caps, i));
    g_ptr_array_unref(got);
    g_ptr_array_unref(caps);
    g_ptr_array_unref(want);
    g_ptr_array_unref(want_caps);
}

/* framebus-producer -> framebussrc (started first, lossless) -> appsink is
 * ffmpeg's own decode of the clip, and the pipeline ends by itself. */
static void test_producer_to_src(void **state)
{
    gchar *clip = path_in_tmp("clip.mkv");
    gchar *md5 = path_in_tmp("clip.md5"), *cmd, *text;
    GPtrArray *got, *want = g_ptr_array_new_with_free_func(g_free);
    gchar *msg = NULL;
    GstElement *p;
    pid_t prod;

    /* The producer decodes straight into the bus, so its frames have the
     * decoder's padded layout and reach the appsink with GstVideoMeta,
     * which sample_md5 honours (GStreamer 1.22's y4menc would not). */
    cmd = g_strdup_printf("ffmpeg -v error -y -f lavfi -i testsrc2=size=384x216:rate=25 "
                          "-frames:v 40 -pix_fmt yuv420p -c:v ffv1 %s && "
                          "ffmpeg -v error -y -i %s -pix_fmt yuv420p -f framemd5 %s",
                          clip, clip, md5);
    assert_int_equal(system(cmd), 0);
    g_free(cmd);
    assert_true(g_file_get_contents(md5, &text, NULL, NULL));
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *last = strrchr(line, ',');
        if (line[0] != '#' && last)
            g_ptr_array_add(want, g_strdup(g_strstrip(last + 1)));
    }
    g_free(text);
    assert_int_equal(want->len, 40);

    p = launch("framebussrc name=s bus=%s policy=lossless timeout=20000000000 ! "
               "appsink name=out sync=false wait-on-eos=false",
               bus);
    play(p);
    g_usleep(300 * 1000); /* the reader waits before the bus exists */
    prod = spawn(NULL, PRODUCER, clip, "--bus", bus, "--fps", "max", "--quiet", NULL);
    assert_int_equal(wait_end(p, 60000, &msg), 1);
    assert_int_equal(get_u64(p, "s", "pushed"), 40);
    got = pull_all(p, 0, NULL);
    stop(p);
    assert_int_equal(wait_child(prod, 10000), 0);
    assert_same_frames(got, want);
    g_ptr_array_unref(got);
    g_ptr_array_unref(want);
    g_free(clip);
    g_free(md5);
}

struct probe_data {
    const char *bus;
    gint buffers, inside;
};

static GstPadProbeReturn probe_cb(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    struct probe_data *d = data;
    GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
    GstMapInfo mi;

    if (gst_buffer_map(b, &mi, GST_MAP_READ)) {
        g_atomic_int_inc(&d->buffers);
        if (in_bus_mapping(mi.data, d->bus))
            g_atomic_int_inc(&d->inside);
        gst_buffer_unmap(b, &mi);
    }
    return GST_PAD_PROBE_OK;
}

static void add_probe(GstElement *p, const char *elem, const char *pad, struct probe_data *d)
{
    GstElement *e = gst_bin_get_by_name(GST_BIN(p), elem);
    GstPad *sp = gst_element_get_static_pad(e, pad);

    gst_pad_add_probe(sp, GST_PAD_PROBE_TYPE_BUFFER, probe_cb, d, NULL);
    gst_object_unref(sp);
    gst_object_unref(e);
}

/* The zero-copy paths: buffers of the sink's pool are bus slots, and the
 * src's buffers point into its mapping of the bus. */
static void test_zero_copy(void **state)
{
    struct probe_data sinkside = {bus, 0, 0}, srcside = {bus, 0, 0};
    GstElement *src, *p;

    src = launch("framebussrc name=r bus=%s policy=lossless timeout=20000000000 ! "
                 "fakesink name=f sync=false enable-last-sample=false",
                 bus);
    add_probe(src, "f", "sink", &srcside);
    play(src);
    p = launch(VTS " ! framebussink name=s bus=%s sync=false wait-readers=1", 20, "I420", 640, 480,
               bus);
    add_probe(p, "s", "sink", &sinkside);
    play(p);
    assert_int_equal(wait_end(p, 30000, NULL), 1);
    assert_int_equal(get_u64(p, "s", "copied"), 0);
    stop(p);
    assert_int_equal(wait_end(src, 30000, NULL), 1);
    assert_int_equal(get_u64(src, "r", "pushed"), 20);
    assert_int_equal(get_u64(src, "r", "copied"), 0);
    stop(src);
    assert_int_equal(sinkside.buffers, 20);
    assert_int_equal(sinkside.inside, 20);
    assert_int_equal(srcside.buffers, 20);
    assert_int_equal(srcside.inside, 20);
}

/* Downstream that keeps buffers (a queue, an appsink) gets correct bytes:
 * the lent frame is copied out when the next one is due. */
static void test_src_lends_one(void **state)
{
    GstElement *src, *p;
    GPtrArray *want = reference(15, "I420", 320, 240), *got;

    src = launch("framebussrc name=r bus=%s policy=lossless timeout=20000000000 ! "
                 "queue max-size-buffers=100 ! appsink name=out sync=false wait-on-eos=false",
                 bus);
    play(src);
    p = launch(VTS " ! framebussink bus=%s sync=false wait-readers=1", 15, "I420", 320, 240, bus);
    play(p);
    assert_int_equal(wait_end(p, 30000, NULL), 1);
    stop(p);
    assert_int_equal(wait_end(src, 30000, NULL), 1);
    assert_true(get_u64(src, "r", "copied") >= 14);
    got = pull_all(src, 0, NULL);
    stop(src);
    assert_same_frames(got, want);
    g_ptr_array_unref(got);
    g_ptr_array_unref(want);
}

/* A producer killed under a running src: with follow=true the src waits and
 * renegotiates for the next producer; without, it is an error, not a hang. */
static void test_producer_restart(void **state)
{
    GstElement *src;
    GPtrArray *caps = g_ptr_array_new_with_free_func(g_free), *got;
    gchar *msg = NULL;
    pid_t prod;
    guint64 before;
    int rc;

    src = launch("framebussrc name=r bus=%s follow=true timeout=20000000000 ! "
                 "appsink name=out sync=false wait-on-eos=false max-buffers=1000",
                 bus);
    play(src);
    prod = spawn(NULL, PRODUCER, "--bus", bus, "--size", "320x240", "--fps", "50", "--quiet", NULL);
    for (int i = 0; i < 500 && get_u64(src, "r", "pushed") < 5; i++)
        g_usleep(10000);
    assert_true(get_u64(src, "r", "pushed") >= 5);
    kill(prod, SIGKILL);
    waitpid(prod, NULL, 0);
    g_usleep(1500 * 1000); /* past the liveness timeout: the src is waiting */
    before = get_u64(src, "r", "pushed");
    prod = spawn(NULL, PRODUCER, "--bus", bus, "--size", "160x120", "--frames", "10", "--fps", "50",
                 "--wait-readers", "1", "--quiet", NULL);
    assert_int_equal(wait_child(prod, 20000), 0);
    /* follow=true: the end of the second stream is no EOS either. */
    assert_int_equal(wait_end(src, 500, &msg), 0);
    assert_true(get_u64(src, "r", "pushed") > before);
    got = pull_all(src, 0, caps);
    stop(src);
    assert_string_equal(g_ptr_array_index(caps, caps->len - 1), "I420 160x120");
    assert_string_equal(g_ptr_array_index(caps, 0), "I420 320x240");
    g_ptr_array_unref(got);
    g_ptr_array_unref(caps);
    tu_bus_cleanup(bus);

    /* follow=false: a dead producer is an error message. */
    src = launch("framebussrc name=r bus=%s timeout=20000000000 ! fakesink sync=false", bus);
    play(src);
    prod = spawn(NULL, PRODUCER, "--bus", bus, "--size", "160x120", "--fps", "50", "--quiet", NULL);
    for (int i = 0; i < 1000 && get_u64(src, "r", "pushed") < 3; i++)
        g_usleep(10000);
    kill(prod, SIGKILL);
    waitpid(prod, NULL, 0);
    rc = wait_end(src, 20000, &msg);
    stop(src);
    assert_int_equal(rc, -1);
    if (!strstr(msg, "producer died"))
        fail_msg("unexpected error text: %s", msg);
    g_free(msg);
}

/* Every failure is an error message with a clear text. */
static void test_errors(void **state)
{
    gchar *msg = NULL, *desc;

    assert_int_equal(run(10000, &msg, "videotestsrc num-buffers=1 ! framebussink bus=bad/name"),
                     -1);
    assert_non_null(strstr(msg, "bad name"));
    g_clear_pointer(&msg, g_free);

    assert_int_equal(run(10000, &msg, "framebussrc bus=bad/name ! fakesink"), -1);
    assert_non_null(strstr(msg, "bad name"));
    g_clear_pointer(&msg, g_free);

    assert_int_equal(run(10000, &msg, "videotestsrc num-buffers=1 ! framebussink"), -1);
    assert_non_null(strstr(msg, "no bus name"));
    g_clear_pointer(&msg, g_free);

    desc = g_strdup_printf("framebussrc bus=%s timeout=300000000 ! fakesink", bus);
    assert_int_equal(run(10000, &msg, desc), -1);
    assert_non_null(strstr(msg, "no such bus"));
    g_clear_pointer(&msg, g_free);
    g_free(desc);

    /* A format the bus does not carry is refused at negotiation. */
    {
        GError *err = NULL;
        GstElement *p = gst_parse_launch("videotestsrc num-buffers=1 ! "
                                         "video/x-raw,format=Y41B ! framebussink bus=x",
                                         &err);
        assert_non_null(err);
        assert_non_null(strstr(err->message, "can't handle caps"));
        g_error_free(err);
        if (p)
            gst_object_unref(p);
    }

    /* A bus another live producer holds. */
    {
        fbus_writer *w = NULL;
        fbus_format fmt;
        assert_int_equal(fbus_format_init(&fmt, "yuv420p", 64, 64, 0), 0);
        fbus_writer_opts o = {.format = &fmt};
        assert_int_equal(fbus_writer_open(bus, &o, &w), 0);
        desc = g_strdup_printf("videotestsrc num-buffers=1 ! framebussink bus=%s", bus);
        assert_int_equal(run(10000, &msg, desc), -1);
        assert_non_null(strstr(msg, "another live producer"));
        g_clear_pointer(&msg, g_free);
        g_free(desc);

        /* A pixel format GStreamer has no name for. */
        fbus_slot slot;
        fbus_format odd = fmt;
        strcpy(odd.pix_fmt, "bayer_rggb8");
        odd.nb_planes = 1;
        odd.planes[0].row_bytes = 64;
        desc = g_strdup_printf("framebussrc bus=%s timeout=5000000000 ! fakesink", bus);
        {
            GstElement *p = launch("%s", desc);
            play(p);
            assert_int_equal(fbus_writer_acquire(w, &odd, -1, &slot), 0);
            assert_int_equal(fbus_writer_publish(w, &slot, NULL), 0);
            assert_int_equal(wait_end(p, 10000, &msg), -1);
            stop(p);
        }
        assert_non_null(strstr(msg, "no GStreamer equivalent"));
        g_clear_pointer(&msg, g_free);
        g_free(desc);
        fbus_writer_close(w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sink_to_cat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_copy_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_src_low_latency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_bgrx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_nv12, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer_to_src, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_src_lends_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    GstPlugin *plugin;
    GError *err = NULL;
    int rc;

    /* The plugin under test, from the build tree, in a registry of our own;
     * no forked scanner, so the sanitizers see the plugin load. */
    setenv("GST_REGISTRY", FBUS_TEST_BINDIR "/gst/test-registry.bin", 1);
    setenv("GST_REGISTRY_FORK", "no", 1);
    gst_init(NULL, NULL);
    plugin = gst_plugin_load_file(FBUS_TEST_BINDIR "/gst/libgstframebus.so", &err);
    if (!plugin) {
        fprintf(stderr, "test_gst: cannot load the plugin: %s\n", err ? err->message : "?");
        return 1;
    }
    gst_object_unref(plugin);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_gst.%d", (int)getpid());
    mkdir(tmpdir, 0700);
    if (getenv("TEST_GST_FILTER")) /* run some tests only, e.g. "test_errors" */
        cmocka_set_test_filter(getenv("TEST_GST_FILTER"));
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    {
        gchar *cmd = g_strdup_printf("rm -rf %s", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_gst: could not remove %s\n", tmpdir);
        g_free(cmd);
    }
    gst_deinit();
    return rc;
}
