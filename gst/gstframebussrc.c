/* SPDX-License-Identifier: MIT */
/*
 * framebussrc: waits for a bus, negotiates caps from its frames, and pushes
 * each frame as a read-only buffer that points into the bus's shared memory.
 * A reader holds one frame at a time, so one buffer at most is lent: when
 * the next frame is due and downstream still holds the lent buffer, its
 * bytes are copied out first and the frame goes back to the bus.
 */
#include <errno.h>
#include <string.h>

#include "formats.h"
#include "gstframebussrc.h"
#include "lentmem.h"

GST_DEBUG_CATEGORY_STATIC(framebussrc_debug);
#define GST_CAT_DEFAULT framebussrc_debug

#define STEP_NS (20 * 1000 * 1000LL)
/* How long the next frame waits for a map of the lent one to end. Elements
 * that keep input mapped while they wait for more (x264enc's lookahead)
 * would otherwise hold every frame back; past this the bytes are copied out
 * anyway and the slot goes back (such an element may then see them change;
 * x264enc copies its input, so it does not). */
#define DETACH_WAIT_US (20 * G_TIME_SPAN_MILLISECOND)

enum {
    PROP_0,
    PROP_BUS,
    PROP_TRANSPORT,
    PROP_POLICY,
    PROP_FOLLOW,
    PROP_TIMEOUT,
    PROP_ZERO_COPY,
    PROP_LOW_LATENCY,
    PROP_PUSHED,
    PROP_COPIED,
};

/* What the caps of a frame depend on (its layout goes into GstVideoMeta). */
typedef struct {
    char pix_fmt[FBUS_PIXFMT_MAX];
    uint32_t width, height;
    int32_t rate_num, rate_den, sar_num, sar_den;
    fbus_color color;
} caps_key;

struct _GstFramebusSrc {
    GstPushSrc parent;

    /* Properties, under the object lock. */
    gchar *bus;
    fbus_transport transport;
    fbus_policy policy;
    gboolean follow;
    gboolean low_latency; /* FBUS_READER_LOW_LATENCY */
    guint64 timeout;
    gboolean zero_copy;

    /* The streaming thread's (and start/stop's, which never run with it). */
    fbus_reader *reader;
    gboolean holding;
    fbus_frame frame;
    GstMemory *lent; /* our reference to the memory of the held frame */
    gboolean have_key;
    caps_key key;
    GstCaps *caps;
    GstVideoInfo info;    /* GStreamer's default layout of caps */
    gboolean have_frame;  /* a frame came since start */
    gint64 wait_since;    /* when the wait for a first frame began (us) */
    gboolean have_offset; /* frame pts -> running time */
    GstClockTimeDiff offset;

    gint downstream_meta; /* downstream reads GstVideoMeta */
    volatile gint flushing;
    guint64 pushed, copied; /* atomically */
};

GType gst_framebus_transport_get_type(void);
GType gst_framebus_policy_get_type(void);

G_DEFINE_TYPE(GstFramebusSrc, gst_framebus_src, GST_TYPE_PUSH_SRC)

static void count(GstFramebusSrc *src, guint64 *counter)
{
    GST_OBJECT_LOCK(src);
    (*counter)++;
    GST_OBJECT_UNLOCK(src);
}

/* Give the held frame back to the bus, copying the lent buffer's bytes out
 * first if downstream still holds it. */
static void give_back(GstFramebusSrc *src)
{
    if (src->lent) {
        if (GST_MINI_OBJECT_REFCOUNT_VALUE(src->lent) > 1) {
            if (!gst_framebus_lent_memory_detach(src->lent, DETACH_WAIT_US))
                GST_WARNING_OBJECT(src, "downstream kept a frame mapped for over %d ms",
                                   (int)(DETACH_WAIT_US / G_TIME_SPAN_MILLISECOND));
            count(src, &src->copied);
        }
        gst_memory_unref(src->lent);
        src->lent = NULL;
    }
    if (src->holding) {
        int err = fbus_reader_release(src->reader, &src->frame);
        if (err == FBUS_EOVERRUN)
            GST_WARNING_OBJECT(src,
                               "frame %" G_GUINT64_FORMAT " was overwritten while held "
                               "(latest policy with too few slots)",
                               src->frame.seq);
        src->holding = FALSE;
    }
}

/* ---------------------------------------------------------------- errors */

static void post_reader_error(GstFramebusSrc *src, const char *bus, int err)
{
    switch (err) {
    case FBUS_EBADNAME:
        GST_ELEMENT_ERROR(src, RESOURCE, SETTINGS,
                          ("bus \"%s\": bad name (1 to 64 characters of A-Z a-z 0-9 . _ -)", bus),
                          (NULL));
        break;
    case -EACCES:
    case -EPERM:
        GST_ELEMENT_ERROR(src, RESOURCE, OPEN_READ, ("bus \"%s\": permission denied", bus), (NULL));
        break;
    case FBUS_EOBSERVER:
        GST_ELEMENT_ERROR(src, RESOURCE, OPEN_READ,
                          ("bus \"%s\": policy=lossless needs write access to the bus, which "
                           "this user can only read (use policy=latest)",
                           bus),
                          (NULL));
        break;
    case FBUS_EPRODUCERGONE:
        GST_ELEMENT_ERROR(src, RESOURCE, READ,
                          ("bus \"%s\": the producer died without ending its stream (set "
                           "follow=true to wait for the next one)",
                           bus),
                          (NULL));
        break;
    default:
        GST_ELEMENT_ERROR(src, RESOURCE, READ, ("bus \"%s\": %s", bus, fbus_strerror(err)), (NULL));
        break;
    }
}

/* ---------------------------------------------------------------- caps */

static void key_of(const fbus_frame *f, caps_key *k)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->pix_fmt, f->format.pix_fmt, sizeof(k->pix_fmt));
    k->width = f->format.width;
    k->height = f->format.height;
    k->rate_num = f->rate_num;
    k->rate_den = f->rate_den;
    k->sar_num = f->sar_num;
    k->sar_den = f->sar_den;
    k->color = f->color;
}

static gboolean gst_framebus_src_negotiate(GstBaseSrc *bsrc)
{
    GstFramebusSrc *src = GST_FRAMEBUS_SRC(bsrc);

    /* Before the first frame there is nothing to offer: create negotiates
     * as soon as it knows the format. */
    if (!src->caps)
        return TRUE;
    return gst_base_src_set_caps(bsrc, src->caps);
}

/* Renegotiate when the frame's format (or rate, aspect, colour) changed. */
static GstFlowReturn update_caps(GstFramebusSrc *src, const char *bus)
{
    GstVideoInfo frame_info;
    GstCaps *caps;
    caps_key k;

    key_of(&src->frame, &k);
    if (src->have_key && memcmp(&k, &src->key, sizeof(k)) == 0)
        return GST_FLOW_OK;
    caps = gst_framebus_caps_from_frame(&src->frame, &frame_info);
    if (!caps) {
        GST_ELEMENT_ERROR(src, STREAM, FORMAT,
                          ("bus \"%s\": pixel format \"%s\" has no GStreamer equivalent", bus,
                           src->frame.format.pix_fmt),
                          (NULL));
        return GST_FLOW_NOT_NEGOTIATED;
    }
    gst_caps_replace(&src->caps, caps);
    gst_video_info_from_caps(&src->info, caps);
    src->key = k;
    src->have_key = TRUE;
    GST_INFO_OBJECT(src, "caps %" GST_PTR_FORMAT, caps);
    gst_caps_unref(caps);
    if (!gst_base_src_negotiate(GST_BASE_SRC(src))) {
        GST_ELEMENT_ERROR(
            src, CORE, NEGOTIATION,
            ("bus \"%s\": downstream refused %ux%u %s", bus, k.width, k.height, k.pix_fmt), (NULL));
        return GST_FLOW_NOT_NEGOTIATED;
    }
    return GST_FLOW_OK;
}

static gboolean gst_framebus_src_decide_allocation(GstBaseSrc *bsrc, GstQuery *query)
{
    GstFramebusSrc *src = GST_FRAMEBUS_SRC(bsrc);

    gboolean meta = gst_query_find_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);

    GST_DEBUG_OBJECT(src, "downstream %s GstVideoMeta", meta ? "reads" : "does not read");
    g_atomic_int_set(&src->downstream_meta, meta);
    return GST_BASE_SRC_CLASS(gst_framebus_src_parent_class)->decide_allocation(bsrc, query);
}

/* ---------------------------------------------------------------- frames */

static GstClockTime running_time_now(GstFramebusSrc *src)
{
    GstClock *clock = gst_element_get_clock(GST_ELEMENT(src));
    GstClockTime now, base;

    if (!clock)
        return GST_CLOCK_TIME_NONE;
    now = gst_clock_get_time(clock);
    base = gst_element_get_base_time(GST_ELEMENT(src));
    gst_object_unref(clock);
    return now > base ? now - base : 0;
}

/* The frame's pts on the pipeline's running time: the first frame of a
 * session maps to now, later ones keep the producer's spacing. Frames
 * without pts get the running time they were published at. */
static void stamp(GstFramebusSrc *src, GstBuffer *buf)
{
    const fbus_frame *f = &src->frame;
    GstClockTime now = running_time_now(src);
    GstClockTimeDiff ts;

    if (f->flags & FBUS_FRAME_NEW_SESSION)
        src->have_offset = FALSE;
    if (f->pts != INT64_MIN && f->tb_num > 0 && f->tb_den > 0 && GST_CLOCK_TIME_IS_VALID(now)) {
        gint64 pts_ns =
            f->pts >= 0
                ? (gint64)gst_util_uint64_scale(f->pts, (guint64)f->tb_num * GST_SECOND, f->tb_den)
                : -(gint64)gst_util_uint64_scale(-(f->pts + 1) + 1, (guint64)f->tb_num * GST_SECOND,
                                                 f->tb_den);
        if (!src->have_offset) {
            src->offset = (GstClockTimeDiff)now - pts_ns;
            src->have_offset = TRUE;
        }
        ts = pts_ns + src->offset;
    } else if (GST_CLOCK_TIME_IS_VALID(now)) {
        gint64 age = fbus_now_ns() - f->publish_ns;
        ts = (GstClockTimeDiff)now - (age > 0 ? age : 0);
    } else {
        return;
    }
    GST_BUFFER_PTS(buf) = ts > 0 ? (GstClockTime)ts : 0;
    if (f->rate_num > 0 && f->rate_den > 0)
        GST_BUFFER_DURATION(buf) = gst_util_uint64_scale_int(GST_SECOND, f->rate_den, f->rate_num);
    GST_BUFFER_OFFSET(buf) = f->seq;
    if (!(f->flags & FBUS_FRAME_KEY) && f->pts != INT64_MIN)
        GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
}

/* Lend the frame: a read-only buffer over the slot, described by
 * GstVideoMeta. The frame stays held until the next create or stop. */
static GstBuffer *lend(GstFramebusSrc *src)
{
    const fbus_format *fmt = &src->frame.format;
    gsize offset[GST_VIDEO_MAX_PLANES] = {0};
    gint stride[GST_VIDEO_MAX_PLANES] = {0};
    guint8 *base = (guint8 *)src->frame.data[0] - fmt->planes[0].offset;
    GstMemory *mem = gst_framebus_lent_memory_new(base, fmt->size, TRUE);
    GstBuffer *buf = gst_buffer_new();

    gst_buffer_append_memory(buf, mem);
    for (guint i = 0; i < fmt->nb_planes && i < GST_VIDEO_MAX_PLANES; i++) {
        offset[i] = fmt->planes[i].offset;
        stride[i] = (gint)fmt->planes[i].stride;
    }
    gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE,
                                   GST_VIDEO_INFO_FORMAT(&src->info), fmt->width, fmt->height,
                                   fmt->nb_planes, offset, stride);
    src->lent = gst_memory_ref(mem);
    return buf;
}

/* Copy the frame into GStreamer's default layout and give it back. */
static GstBuffer *copy(GstFramebusSrc *src)
{
    const fbus_format *fmt = &src->frame.format;
    GstBuffer *buf = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&src->info), NULL);
    GstVideoFrame vf;

    if (!buf)
        return NULL;
    if (!gst_video_frame_map(&vf, &src->info, buf, GST_MAP_WRITE)) {
        gst_buffer_unref(buf);
        return NULL;
    }
    for (guint i = 0; i < fmt->nb_planes; i++)
        fbus_copy_plane(GST_VIDEO_FRAME_PLANE_DATA(&vf, i), GST_VIDEO_FRAME_PLANE_STRIDE(&vf, i),
                        src->frame.data[i], fmt->planes[i].stride, fmt->planes[i].row_bytes,
                        fmt->planes[i].rows);
    gst_video_frame_unmap(&vf);
    count(src, &src->copied);
    give_back(src);
    return buf;
}

static GstFlowReturn gst_framebus_src_create(GstPushSrc *psrc, GstBuffer **out)
{
    GstFramebusSrc *src = GST_FRAMEBUS_SRC(psrc);
    GstFlowReturn ret = GST_FLOW_OK;
    gchar *bus;
    gboolean follow, zero_copy;
    guint64 timeout;
    GstBuffer *buf;

    GST_OBJECT_LOCK(src);
    bus = g_strdup(src->bus);
    follow = src->follow;
    zero_copy = src->zero_copy;
    timeout = src->timeout;
    GST_OBJECT_UNLOCK(src);

    give_back(src);
    for (;;) {
        int err;

        if (g_atomic_int_get(&src->flushing)) {
            ret = GST_FLOW_FLUSHING;
            goto out;
        }
        err = fbus_reader_acquire(src->reader, STEP_NS, &src->frame);
        if (err == 0)
            break;
        if (err == -ETIMEDOUT || err == -EAGAIN) {
            gint64 now = g_get_monotonic_time();

            /* timeout bounds the wait for the first frame only. */
            if (!src->have_frame && timeout > 0) {
                if (!src->wait_since)
                    src->wait_since = now;
                else if ((guint64)(now - src->wait_since) * 1000 >= timeout) {
                    if (fbus_reader_attached(src->reader))
                        GST_ELEMENT_ERROR(
                            src, RESOURCE, READ,
                            ("bus \"%s\": no frame within %.3g s", bus, timeout / 1e9), (NULL));
                    else
                        GST_ELEMENT_ERROR(src, RESOURCE, NOT_FOUND,
                                          ("bus \"%s\": no such bus (no producer appeared "
                                           "within %.3g s)",
                                           bus, timeout / 1e9),
                                          (NULL));
                    ret = GST_FLOW_ERROR;
                    goto out;
                }
            }
            continue;
        }
        if (err == FBUS_EENDED && !follow) {
            GST_INFO_OBJECT(src, "bus \"%s\": the stream ended", bus);
            ret = GST_FLOW_EOS;
            goto out;
        }
        if (err == FBUS_EENDED || err == FBUS_EREPLACED || (err == FBUS_EPRODUCERGONE && follow)) {
            /* The next acquire waits for the next producer (or region). */
            GST_INFO_OBJECT(src, "bus \"%s\": %s; waiting for the next producer", bus,
                            fbus_strerror(err));
            continue;
        }
        post_reader_error(src, bus, err);
        ret = GST_FLOW_ERROR;
        goto out;
    }
    src->holding = TRUE;
    src->have_frame = TRUE;

    ret = update_caps(src, bus);
    if (ret != GST_FLOW_OK) {
        give_back(src);
        goto out;
    }
    /* Lend only what downstream can read: GstVideoMeta, or a slot that is
     * laid out the way GStreamer would lay it out anyway. */
    if (zero_copy && (g_atomic_int_get(&src->downstream_meta) ||
                      gst_framebus_layout_matches(&src->frame.format, &src->info)))
        buf = lend(src);
    else
        buf = copy(src);
    if (!buf) {
        give_back(src);
        GST_ELEMENT_ERROR(src, RESOURCE, NO_SPACE_LEFT, ("out of memory for a frame"), (NULL));
        ret = GST_FLOW_ERROR;
        goto out;
    }
    stamp(src, buf);
    count(src, &src->pushed);
    *out = buf;
out:
    g_free(bus);
    return ret;
}

/* ---------------------------------------------------------------- state */

static gboolean gst_framebus_src_start(GstBaseSrc *bsrc)
{
    GstFramebusSrc *src = GST_FRAMEBUS_SRC(bsrc);
    fbus_reader_opts opts = {0};
    gchar *bus;
    int err;

    GST_OBJECT_LOCK(src);
    bus = g_strdup(src->bus);
    opts.transport = src->transport;
    opts.policy = src->policy;
    opts.flags = src->low_latency ? FBUS_READER_LOW_LATENCY : 0;
    src->pushed = src->copied = 0;
    GST_OBJECT_UNLOCK(src);
    if (!bus) {
        GST_ELEMENT_ERROR(src, RESOURCE, SETTINGS, ("no bus name: set the \"bus\" property"),
                          (NULL));
        return FALSE;
    }
    /* Waiting for the bus makes the start order free: with lossless, a
     * reader that waits first gets the producer's first frame. */
    opts.flags |= FBUS_READER_WAIT;
    err = fbus_reader_open(bus, &opts, &src->reader);
    if (err < 0)
        post_reader_error(src, bus, err);
    g_free(bus);
    src->have_frame = FALSE;
    src->wait_since = 0;
    src->have_key = FALSE;
    src->have_offset = FALSE;
    gst_caps_replace(&src->caps, NULL);
    return err == 0;
}

static gboolean gst_framebus_src_stop(GstBaseSrc *bsrc)
{
    GstFramebusSrc *src = GST_FRAMEBUS_SRC(bsrc);

    give_back(src);
    fbus_reader_close(src->reader);
    src->reader = NULL;
    gst_caps_replace(&src->caps, NULL);
    return TRUE;
}

static gboolean gst_framebus_src_unlock(GstBaseSrc *bsrc)
{
    g_atomic_int_set(&GST_FRAMEBUS_SRC(bsrc)->flushing, 1);
    return TRUE;
}

static gboolean gst_framebus_src_unlock_stop(GstBaseSrc *bsrc)
{
    g_atomic_int_set(&GST_FRAMEBUS_SRC(bsrc)->flushing, 0);
    return TRUE;
}

static gboolean gst_framebus_src_query(GstBaseSrc *bsrc, GstQuery *query)
{
    GstFramebusSrc *src = GST_FRAMEBUS_SRC(bsrc);

    if (GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
        /* A frame is ready when it is published: at most one frame late. */
        GstClockTime min = 0;

        GST_OBJECT_LOCK(src);
        if (src->caps && GST_VIDEO_INFO_FPS_N(&src->info) > 0)
            min = gst_util_uint64_scale_int(GST_SECOND, GST_VIDEO_INFO_FPS_D(&src->info),
                                            GST_VIDEO_INFO_FPS_N(&src->info));
        GST_OBJECT_UNLOCK(src);
        gst_query_set_latency(query, TRUE, min, GST_CLOCK_TIME_NONE);
        return TRUE;
    }
    return GST_BASE_SRC_CLASS(gst_framebus_src_parent_class)->query(bsrc, query);
}

/* ---------------------------------------------------------------- object */

static void gst_framebus_src_set_property(GObject *object, guint id, const GValue *value,
                                          GParamSpec *pspec)
{
    GstFramebusSrc *src = GST_FRAMEBUS_SRC(object);

    GST_OBJECT_LOCK(src);
    switch (id) {
    case PROP_BUS:
        g_free(src->bus);
        src->bus = g_value_dup_string(value);
        break;
    case PROP_TRANSPORT:
        src->transport = g_value_get_enum(value);
        break;
    case PROP_POLICY:
        src->policy = g_value_get_enum(value);
        break;
    case PROP_FOLLOW:
        src->follow = g_value_get_boolean(value);
        break;
    case PROP_TIMEOUT:
        src->timeout = g_value_get_uint64(value);
        break;
    case PROP_ZERO_COPY:
        src->zero_copy = g_value_get_boolean(value);
        break;
    case PROP_LOW_LATENCY:
        src->low_latency = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(src);
}

static void gst_framebus_src_get_property(GObject *object, guint id, GValue *value,
                                          GParamSpec *pspec)
{
    GstFramebusSrc *src = GST_FRAMEBUS_SRC(object);

    GST_OBJECT_LOCK(src);
    switch (id) {
    case PROP_BUS:
        g_value_set_string(value, src->bus);
        break;
    case PROP_TRANSPORT:
        g_value_set_enum(value, src->transport);
        break;
    case PROP_POLICY:
        g_value_set_enum(value, src->policy);
        break;
    case PROP_FOLLOW:
        g_value_set_boolean(value, src->follow);
        break;
    case PROP_TIMEOUT:
        g_value_set_uint64(value, src->timeout);
        break;
    case PROP_ZERO_COPY:
        g_value_set_boolean(value, src->zero_copy);
        break;
    case PROP_LOW_LATENCY:
        g_value_set_boolean(value, src->low_latency);
        break;
    case PROP_PUSHED:
        g_value_set_uint64(value, src->pushed);
        break;
    case PROP_COPIED:
        g_value_set_uint64(value, src->copied);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(src);
}

static void gst_framebus_src_finalize(GObject *object)
{
    GstFramebusSrc *src = GST_FRAMEBUS_SRC(object);

    g_free(src->bus);
    gst_caps_replace(&src->caps, NULL);
    G_OBJECT_CLASS(gst_framebus_src_parent_class)->finalize(object);
}

static void gst_framebus_src_init(GstFramebusSrc *src)
{
    src->transport = FBUS_TRANSPORT_POSIX;
    src->policy = FBUS_POLICY_LATEST;
    src->zero_copy = TRUE;
    gst_base_src_set_live(GST_BASE_SRC(src), TRUE);
    gst_base_src_set_format(GST_BASE_SRC(src), GST_FORMAT_TIME);
}

static void gst_framebus_src_class_init(GstFramebusSrcClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GstElementClass *ec = GST_ELEMENT_CLASS(klass);
    GstBaseSrcClass *bc = GST_BASE_SRC_CLASS(klass);
    GstPushSrcClass *pc = GST_PUSH_SRC_CLASS(klass);
    GstCaps *caps = gst_framebus_all_caps();
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
    const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

    GST_DEBUG_CATEGORY_INIT(framebussrc_debug, "framebussrc", 0, "framebus video source");
    oc->set_property = gst_framebus_src_set_property;
    oc->get_property = gst_framebus_src_get_property;
    oc->finalize = gst_framebus_src_finalize;

    g_object_class_install_property(
        oc, PROP_BUS,
        g_param_spec_string("bus", "Bus",
                            "Name of the bus to read (waits for it to appear); "
                            "required",
                            NULL, rw));
    g_object_class_install_property(
        oc, PROP_TRANSPORT,
        g_param_spec_enum("transport", "Transport", "Shared memory the bus lives in",
                          gst_framebus_transport_get_type(), FBUS_TRANSPORT_POSIX, rw));
    g_object_class_install_property(
        oc, PROP_POLICY,
        g_param_spec_enum("policy", "Policy",
                          "latest: the newest frame, never slows the producer; lossless: every "
                          "frame in order, the producer waits for this pipeline",
                          gst_framebus_policy_get_type(), FBUS_POLICY_LATEST, rw));
    g_object_class_install_property(
        oc, PROP_FOLLOW,
        g_param_spec_boolean("follow", "Follow",
                             "When the stream ends or its producer dies, wait for the next "
                             "producer of the name instead of EOS or an error",
                             FALSE, rw));
    g_object_class_install_property(
        oc, PROP_TIMEOUT,
        g_param_spec_uint64("timeout", "Timeout",
                            "Nanoseconds to wait for the first frame (for the bus to appear) "
                            "before an error; 0 waits forever",
                            0, G_MAXUINT64, 0, rw));
    g_object_class_install_property(
        oc, PROP_ZERO_COPY,
        g_param_spec_boolean("zero-copy", "Zero copy",
                             "Push buffers that point into the bus's shared memory (one at a "
                             "time; see docs/gstreamer.md) instead of copies",
                             TRUE, rw));
    g_object_class_install_property(
        oc, PROP_LOW_LATENCY,
        g_param_spec_boolean("low-latency", "Low latency",
                             "Wake within microseconds of a publish: sleep until the writer "
                             "begins a frame, then spin until it is published (at most 1/32 "
                             "of the frame interval) instead of sleeping until the kernel "
                             "wakes the thread after the publish",
                             FALSE, rw));
    g_object_class_install_property(
        oc, PROP_PUSHED,
        g_param_spec_uint64("pushed", "Pushed", "Frames pushed", 0, G_MAXUINT64, 0, ro));
    g_object_class_install_property(
        oc, PROP_COPIED,
        g_param_spec_uint64("copied", "Copied",
                            "Frames whose bytes were copied: pushed as copies, or copied out "
                            "of the bus because downstream still held them when the next "
                            "frame was due",
                            0, G_MAXUINT64, 0, ro));

    gst_element_class_set_static_metadata(
        ec, "framebus video source", "Source/Video",
        "Reads raw video from a framebus shared-memory bus (zero-copy)", "framebus");
    gst_element_class_add_pad_template(
        ec, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
    gst_caps_unref(caps);

    bc->start = gst_framebus_src_start;
    bc->stop = gst_framebus_src_stop;
    bc->unlock = gst_framebus_src_unlock;
    bc->unlock_stop = gst_framebus_src_unlock_stop;
    bc->negotiate = gst_framebus_src_negotiate;
    bc->decide_allocation = gst_framebus_src_decide_allocation;
    bc->query = gst_framebus_src_query;
    pc->create = gst_framebus_src_create;
}
