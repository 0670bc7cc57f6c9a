/* SPDX-License-Identifier: MIT */
/*
 * framebussink: creates the bus when caps arrive, publishes each buffer
 * (publishing the slot itself when the buffer came from its pool, copying
 * once otherwise), ends the stream at EOS and removes the bus at stop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "gstframebussink.h"
#include "lentmem.h"

GST_DEBUG_CATEGORY_STATIC(framebussink_debug);
#define GST_CAT_DEFAULT framebussink_debug

/* How long render waits for a pool buffer that must be published first,
 * and how long detaching waits for a map of a lent slot to end. */
#define SLOT_WAIT_US   (2 * G_TIME_SPAN_SECOND)
#define DETACH_WAIT_US (2 * G_TIME_SPAN_SECOND)
/* The writer and wait-readers wait in steps this long, so unlock and
 * flushing interrupt them. */
#define STEP_NS (20 * 1000 * 1000LL)

enum {
    PROP_0,
    PROP_BUS,
    PROP_TRANSPORT,
    PROP_SLOTS,
    PROP_MODE,
    PROP_WAIT_READERS,
    PROP_ZERO_COPY,
    PROP_PUBLISHED,
    PROP_COPIED,
    PROP_DROPPED,
};

#define DEFAULT_SLOTS     FBUS_DEFAULT_SLOTS
#define DEFAULT_MODE      "0600"
#define DEFAULT_ZERO_COPY TRUE

GType gst_framebus_transport_get_type(void);

G_DEFINE_TYPE(GstFramebusSink, gst_framebus_sink, GST_TYPE_BASE_SINK)

/* ---------------------------------------------------------------- writer */

/* Take back the bytes of published slots that buffers still point at: the
 * next acquire may hand one of those slots out again. */
static void detach_lent(GstFramebusSink *sink)
{
    for (guint i = 0; i < sink->lent->len; i++) {
        GstMemory *mem = g_ptr_array_index(sink->lent, i);

        /* Our reference alone: nobody can read it any more. */
        if (GST_MINI_OBJECT_REFCOUNT_VALUE(mem) > 1) {
            if (!gst_framebus_lent_memory_detach(mem, DETACH_WAIT_US))
                GST_WARNING_OBJECT(sink, "a buffer kept a published slot mapped for over %d s",
                                   (int)(DETACH_WAIT_US / G_TIME_SPAN_SECOND));
        }
        gst_memory_unref(mem);
    }
    g_ptr_array_set_size(sink->lent, 0);
}

static void close_writer(GstFramebusSink *sink)
{
    detach_lent(sink);
    if (sink->slot_held) {
        /* A pool buffer still points at it and the mapping goes away. */
        gst_framebus_lent_memory_detach(sink->slot_mem, DETACH_WAIT_US);
        fbus_writer_cancel(sink->writer, &sink->slot);
        gst_memory_unref(sink->slot_mem);
        sink->slot_mem = NULL;
        sink->slot_held = FALSE;
        g_cond_broadcast(&sink->cond);
    }
    fbus_writer_close(sink->writer);
    sink->writer = NULL;
    sink->waited = FALSE;
}

static int parse_mode(const char *s, guint32 *mode)
{
    char *end;
    unsigned long v;

    if (!s || !*s)
        return -1;
    v = strtoul(s, &end, 8);
    if (*end || v > 0777)
        return -1;
    *mode = (guint32)v;
    return 0;
}

static gboolean open_writer(GstFramebusSink *sink)
{
    fbus_writer_opts opts = {0};
    gchar *bus, *mode;
    guint32 mode_bits = 0600;
    int err;

    GST_OBJECT_LOCK(sink);
    bus = g_strdup(sink->bus);
    mode = g_strdup(sink->mode);
    opts.transport = sink->transport;
    opts.slots = sink->slots;
    GST_OBJECT_UNLOCK(sink);

    if (parse_mode(mode, &mode_bits) < 0) {
        GST_ELEMENT_ERROR(sink, RESOURCE, SETTINGS,
                          ("mode \"%s\" is not an octal permission like 0600 or 0640", mode),
                          (NULL));
        err = -EINVAL;
        goto out;
    }
    opts.mode = mode_bits;
    opts.format = &sink->fmt;
    g_strlcpy(sink->name, bus, sizeof(sink->name));
    err = fbus_writer_open(bus, &opts, &sink->writer);
    switch (err) {
    case 0:
        GST_INFO_OBJECT(sink, "created bus \"%s\"", bus);
        break;
    case FBUS_EBADNAME:
        GST_ELEMENT_ERROR(sink, RESOURCE, SETTINGS,
                          ("bus \"%s\": bad name (1 to 64 characters of A-Z a-z 0-9 . _ -)", bus),
                          (NULL));
        break;
    case FBUS_EBUSY:
        GST_ELEMENT_ERROR(sink, RESOURCE, BUSY,
                          ("bus \"%s\": another live producer holds this name", bus), (NULL));
        break;
    case -EACCES:
    case -EPERM:
        GST_ELEMENT_ERROR(sink, RESOURCE, OPEN_WRITE, ("bus \"%s\": permission denied", bus),
                          (NULL));
        break;
    case -EEXIST:
        GST_ELEMENT_ERROR(sink, RESOURCE, OPEN_WRITE,
                          ("bus \"%s\": the name is held by a region of another user", bus),
                          (NULL));
        break;
    default:
        GST_ELEMENT_ERROR(sink, RESOURCE, OPEN_WRITE,
                          ("bus \"%s\": cannot create it: %s", bus, fbus_strerror(err)), (NULL));
        break;
    }
out:
    g_free(bus);
    g_free(mode);
    return err == 0;
}

int gst_framebus_sink_acquire_slot(GstFramebusSink *sink, const fbus_format *fmt,
                                   const volatile gint *stop, fbus_slot *slot)
{
    for (;;) {
        int err;

        if (sink->unlocked || (stop && g_atomic_int_get(stop)) || !sink->writer)
            return -1;
        detach_lent(sink);
        err = fbus_writer_acquire(sink->writer, fmt, STEP_NS, slot);
        if (err != -ETIMEDOUT)
            return err;
        /* A lossless reader holds the writer back: let render and unlock in. */
        g_mutex_unlock(&sink->lock);
        g_thread_yield();
        g_mutex_lock(&sink->lock);
    }
}

/* ---------------------------------------------------------------- render */

static void fill_meta(GstFramebusSink *sink, GstBuffer *buf, fbus_meta *meta)
{
    *meta = sink->meta;
    meta->pts = INT64_MIN;
    if (GST_BUFFER_PTS_IS_VALID(buf) && GST_BUFFER_PTS(buf) <= (GstClockTime)INT64_MAX) {
        meta->pts = (int64_t)GST_BUFFER_PTS(buf);
        meta->tb_num = 1;
        meta->tb_den = GST_SECOND;
    }
    if (!GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT))
        meta->flags |= FBUS_FRAME_KEY;
}

static GstFlowReturn post_acquire_error(GstFramebusSink *sink, int err)
{
    if (err == -1)
        return GST_FLOW_FLUSHING;
    GST_ELEMENT_ERROR(sink, RESOURCE, WRITE,
                      ("bus \"%s\": cannot get a slot for %ux%u %s: %s", sink->name,
                       sink->fmt.width, sink->fmt.height, sink->fmt.pix_fmt, fbus_strerror(err)),
                      (NULL));
    return GST_FLOW_ERROR;
}

/* Hold the first frame of a writer until wait-readers readers came. */
static GstFlowReturn wait_readers(GstFramebusSink *sink)
{
    gint n;

    GST_OBJECT_LOCK(sink);
    n = sink->wait_readers;
    GST_OBJECT_UNLOCK(sink);
    while (n > 0 && !sink->waited) {
        int err;

        if (sink->unlocked || !sink->writer)
            return GST_FLOW_FLUSHING;
        err = fbus_writer_wait_readers(sink->writer, n, STEP_NS);
        if (err == 0)
            break;
        g_mutex_unlock(&sink->lock);
        g_thread_yield();
        g_mutex_lock(&sink->lock);
    }
    sink->waited = TRUE;
    return GST_FLOW_OK;
}

static GstFlowReturn copy_frame(GstFramebusSink *sink, GstBuffer *buf, const fbus_slot *slot)
{
    GstVideoFrame vf;

    if (!gst_video_frame_map(&vf, &sink->info, buf, GST_MAP_READ)) {
        GST_ELEMENT_ERROR(sink, STREAM, FORMAT,
                          ("cannot map a buffer as %ux%u %s", sink->fmt.width, sink->fmt.height,
                           sink->fmt.pix_fmt),
                          (NULL));
        return GST_FLOW_ERROR;
    }
    /* Plane by plane: the buffer's strides (GstVideoMeta) need not be the
     * bus's. */
    for (guint i = 0; i < slot->format.nb_planes; i++) {
        const fbus_plane *p = &slot->format.planes[i];

        fbus_copy_plane(slot->data[i], p->stride, GST_VIDEO_FRAME_PLANE_DATA(&vf, i),
                        GST_VIDEO_FRAME_PLANE_STRIDE(&vf, i), p->row_bytes, p->rows);
    }
    gst_video_frame_unmap(&vf);
    return GST_FLOW_OK;
}

static GstFlowReturn render_locked(GstFramebusSink *sink, GstBuffer *buf)
{
    GstMemory *mem = gst_buffer_n_memory(buf) == 1 ? gst_buffer_peek_memory(buf, 0) : NULL;
    GstFlowReturn ret;
    fbus_meta meta;
    fbus_slot slot;
    int err;

    if (!sink->have_info)
        return GST_FLOW_NOT_NEGOTIATED;
    if (!sink->writer && !open_writer(sink))
        return GST_FLOW_ERROR;
    ret = wait_readers(sink);
    if (ret != GST_FLOW_OK)
        return ret;
    fill_meta(sink, buf, &meta);

    if (sink->slot_held && mem == sink->slot_mem) {
        /* Upstream drew into the slot: publishing is all there is to do. */
        err = fbus_writer_publish(sink->writer, &sink->slot, &meta);
        g_ptr_array_add(sink->lent, sink->slot_mem);
        sink->slot_mem = NULL;
        sink->slot_held = FALSE;
        g_cond_broadcast(&sink->cond);
        if (err < 0)
            goto publish_failed;
        sink->published++;
        return GST_FLOW_OK;
    }

    /* A pool buffer handed out before this one is still on its way: the
     * bus publishes in the order slots are taken, so let it go first. */
    if (sink->slot_held) {
        gint64 end = g_get_monotonic_time() + SLOT_WAIT_US;

        while (sink->slot_held && !sink->unlocked)
            if (!g_cond_wait_until(&sink->cond, &sink->lock, end))
                break;
        if (sink->unlocked)
            return GST_FLOW_FLUSHING;
        if (sink->slot_held) {
            sink->dropped++;
            GST_ELEMENT_WARNING(sink, STREAM, FAILED,
                                ("dropped a frame: a buffer of the sink's pool was not rendered "
                                 "for %d s (set zero-copy=false for this upstream)",
                                 (int)(SLOT_WAIT_US / G_TIME_SPAN_SECOND)),
                                (NULL));
            return GST_FLOW_OK;
        }
    }
    err = gst_framebus_sink_acquire_slot(sink, &sink->fmt, NULL, &slot);
    if (err < 0)
        return post_acquire_error(sink, err);
    ret = copy_frame(sink, buf, &slot);
    if (ret != GST_FLOW_OK) {
        fbus_writer_cancel(sink->writer, &slot);
        return ret;
    }
    err = fbus_writer_publish(sink->writer, &slot, &meta);
    if (err < 0)
        goto publish_failed;
    sink->published++;
    sink->copied++;
    return GST_FLOW_OK;

publish_failed:
    GST_ELEMENT_ERROR(sink, RESOURCE, WRITE,
                      ("bus \"%s\": publish failed: %s", sink->name, fbus_strerror(err)), (NULL));
    return GST_FLOW_ERROR;
}

static GstFlowReturn gst_framebus_sink_render(GstBaseSink *bsink, GstBuffer *buf)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(bsink);
    GstFlowReturn ret;

    g_mutex_lock(&sink->lock);
    ret = render_locked(sink, buf);
    g_mutex_unlock(&sink->lock);
    return ret;
}

/* ---------------------------------------------------------------- caps */

static gboolean gst_framebus_sink_set_caps(GstBaseSink *bsink, GstCaps *caps)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(bsink);
    GstVideoInfo info;
    fbus_format fmt;
    gboolean ok = TRUE;
    int err;

    if (!gst_video_info_from_caps(&info, caps)) {
        GST_ELEMENT_ERROR(sink, STREAM, FORMAT,
                          ("caps %" GST_PTR_FORMAT " are not raw video", caps), (NULL));
        return FALSE;
    }
    err = gst_framebus_format_from_info(&info, TRUE, &fmt);
    if (err < 0) {
        GST_ELEMENT_ERROR(sink, STREAM, FORMAT,
                          ("format %s %dx%d cannot go on the bus: %s",
                           gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info)),
                           GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info),
                           fbus_strerror(err)),
                          (NULL));
        return FALSE;
    }
    g_mutex_lock(&sink->lock);
    sink->info = info;
    sink->fmt = fmt;
    memset(&sink->meta, 0, sizeof(sink->meta));
    gst_framebus_meta_from_info(&info, &sink->meta);
    sink->have_info = TRUE;
    /* A new format on an open bus is the next acquire's business (the
     * library moves to a bigger region if it must). */
    if (!sink->writer)
        ok = open_writer(sink);
    g_mutex_unlock(&sink->lock);
    return ok;
}

static gboolean gst_framebus_sink_propose_allocation(GstBaseSink *bsink, GstQuery *query)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(bsink);
    GstBufferPool *pool;
    GstStructure *config;
    GstVideoInfo info;
    GstCaps *caps;
    gboolean need_pool, zero_copy;

    gst_query_parse_allocation(query, &caps, &need_pool);
    if (!caps || !gst_video_info_from_caps(&info, caps))
        return FALSE;
    /* Copying honours GstVideoMeta strides, so any layout will do. */
    gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);
    GST_OBJECT_LOCK(sink);
    zero_copy = sink->zero_copy;
    GST_OBJECT_UNLOCK(sink);
    if (!need_pool || !zero_copy)
        return TRUE;
    pool = gst_framebus_sink_pool_new(sink);
    config = gst_buffer_pool_get_config(pool);
    gst_buffer_pool_config_set_params(config, caps, (guint)info.size, 0, 0);
    if (!gst_buffer_pool_set_config(pool, config)) {
        gst_object_unref(pool);
        return TRUE;
    }
    gst_query_add_allocation_pool(query, pool, (guint)info.size, 0, 0);
    gst_object_unref(pool);
    return TRUE;
}

/* ---------------------------------------------------------------- state */

static gboolean gst_framebus_sink_start(GstBaseSink *bsink)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(bsink);
    gchar *bus;
    gboolean ok = TRUE;

    GST_OBJECT_LOCK(sink);
    bus = g_strdup(sink->bus);
    GST_OBJECT_UNLOCK(sink);
    /* Messages are posted without the object lock: posting takes it. */
    if (!bus) {
        GST_ELEMENT_ERROR(sink, RESOURCE, SETTINGS, ("no bus name: set the \"bus\" property"),
                          (NULL));
        ok = FALSE;
    } else if (fbus_name_check(bus) < 0) {
        GST_ELEMENT_ERROR(sink, RESOURCE, SETTINGS,
                          ("bus \"%s\": bad name (1 to 64 characters of A-Z a-z 0-9 . _ -)", bus),
                          (NULL));
        ok = FALSE;
    }
    g_free(bus);
    g_mutex_lock(&sink->lock);
    sink->have_info = FALSE;
    sink->published = sink->copied = sink->dropped = 0;
    g_mutex_unlock(&sink->lock);
    return ok;
}

static gboolean gst_framebus_sink_stop(GstBaseSink *bsink)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(bsink);

    g_mutex_lock(&sink->lock);
    if (sink->writer)
        close_writer(sink);
    sink->have_info = FALSE;
    g_mutex_unlock(&sink->lock);
    return TRUE;
}

static gboolean gst_framebus_sink_event(GstBaseSink *bsink, GstEvent *event)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(bsink);

    if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
        /* Readers see the end of the stream; a later buffer makes a new one. */
        g_mutex_lock(&sink->lock);
        if (sink->writer)
            close_writer(sink);
        g_mutex_unlock(&sink->lock);
    }
    return GST_BASE_SINK_CLASS(gst_framebus_sink_parent_class)->event(bsink, event);
}

static gboolean gst_framebus_sink_unlock(GstBaseSink *bsink)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(bsink);

    g_mutex_lock(&sink->lock);
    sink->unlocked = TRUE;
    g_cond_broadcast(&sink->cond);
    g_mutex_unlock(&sink->lock);
    return TRUE;
}

static gboolean gst_framebus_sink_unlock_stop(GstBaseSink *bsink)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(bsink);

    g_mutex_lock(&sink->lock);
    sink->unlocked = FALSE;
    g_mutex_unlock(&sink->lock);
    return TRUE;
}

/* ---------------------------------------------------------------- object */

static void gst_framebus_sink_set_property(GObject *object, guint id, const GValue *value,
                                           GParamSpec *pspec)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(object);

    GST_OBJECT_LOCK(sink);
    switch (id) {
    case PROP_BUS:
        g_free(sink->bus);
        sink->bus = g_value_dup_string(value);
        break;
    case PROP_TRANSPORT:
        sink->transport = g_value_get_enum(value);
        break;
    case PROP_SLOTS:
        sink->slots = g_value_get_uint(value);
        break;
    case PROP_MODE:
        g_free(sink->mode);
        sink->mode = g_value_dup_string(value);
        break;
    case PROP_WAIT_READERS:
        sink->wait_readers = g_value_get_int(value);
        break;
    case PROP_ZERO_COPY:
        sink->zero_copy = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(sink);
}

static void gst_framebus_sink_get_property(GObject *object, guint id, GValue *value,
                                           GParamSpec *pspec)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(object);

    switch (id) {
    case PROP_PUBLISHED:
    case PROP_COPIED:
    case PROP_DROPPED:
        g_mutex_lock(&sink->lock);
        g_value_set_uint64(value, id == PROP_PUBLISHED ? sink->published
                                  : id == PROP_COPIED  ? sink->copied
                                                       : sink->dropped);
        g_mutex_unlock(&sink->lock);
        return;
    default:
        break;
    }
    GST_OBJECT_LOCK(sink);
    switch (id) {
    case PROP_BUS:
        g_value_set_string(value, sink->bus);
        break;
    case PROP_TRANSPORT:
        g_value_set_enum(value, sink->transport);
        break;
    case PROP_SLOTS:
        g_value_set_uint(value, sink->slots);
        break;
    case PROP_MODE:
        g_value_set_string(value, sink->mode);
        break;
    case PROP_WAIT_READERS:
        g_value_set_int(value, sink->wait_readers);
        break;
    case PROP_ZERO_COPY:
        g_value_set_boolean(value, sink->zero_copy);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(sink);
}

static void gst_framebus_sink_finalize(GObject *object)
{
    GstFramebusSink *sink = GST_FRAMEBUS_SINK(object);

    g_free(sink->bus);
    g_free(sink->mode);
    g_ptr_array_unref(sink->lent);
    g_mutex_clear(&sink->lock);
    g_cond_clear(&sink->cond);
    G_OBJECT_CLASS(gst_framebus_sink_parent_class)->finalize(object);
}

static void gst_framebus_sink_init(GstFramebusSink *sink)
{
    sink->transport = FBUS_TRANSPORT_POSIX;
    sink->slots = DEFAULT_SLOTS;
    sink->mode = g_strdup(DEFAULT_MODE);
    sink->zero_copy = DEFAULT_ZERO_COPY;
    sink->lent = g_ptr_array_new();
    g_mutex_init(&sink->lock);
    g_cond_init(&sink->cond);
    /* The last sample would keep a slot's buffer alive past the bus. */
    gst_base_sink_set_last_sample_enabled(GST_BASE_SINK(sink), FALSE);
}

static void gst_framebus_sink_class_init(GstFramebusSinkClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GstElementClass *ec = GST_ELEMENT_CLASS(klass);
    GstBaseSinkClass *bc = GST_BASE_SINK_CLASS(klass);
    GstCaps *caps = gst_framebus_all_caps();
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
    const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

    GST_DEBUG_CATEGORY_INIT(framebussink_debug, "framebussink", 0, "framebus video sink");
    oc->set_property = gst_framebus_sink_set_property;
    oc->get_property = gst_framebus_sink_get_property;
    oc->finalize = gst_framebus_sink_finalize;

    g_object_class_install_property(
        oc, PROP_BUS,
        g_param_spec_string("bus", "Bus",
                            "Name of the bus to create (1 to 64 characters of "
                            "A-Z a-z 0-9 . _ -); required",
                            NULL, rw));
    g_object_class_install_property(
        oc, PROP_TRANSPORT,
        g_param_spec_enum("transport", "Transport", "Shared memory the bus lives in",
                          gst_framebus_transport_get_type(), FBUS_TRANSPORT_POSIX, rw));
    g_object_class_install_property(oc, PROP_SLOTS,
                                    g_param_spec_uint("slots", "Slots",
                                                      "Number of frame slots of the bus", 2,
                                                      FBUS_MAX_SLOTS, DEFAULT_SLOTS, rw));
    g_object_class_install_property(
        oc, PROP_MODE,
        g_param_spec_string("mode", "Mode",
                            "Permission bits of the bus, in octal (0640 opens it "
                            "to the group)",
                            DEFAULT_MODE, rw));
    g_object_class_install_property(
        oc, PROP_WAIT_READERS,
        g_param_spec_int("wait-readers", "Wait readers",
                         "Hold the first frame until this many readers are attached", 0,
                         FBUS_MAX_READERS, 0, rw));
    g_object_class_install_property(
        oc, PROP_ZERO_COPY,
        g_param_spec_boolean("zero-copy", "Zero copy",
                             "Offer upstream a buffer pool whose buffers are bus slots, so it "
                             "draws straight into shared memory",
                             DEFAULT_ZERO_COPY, rw));
    g_object_class_install_property(oc, PROP_PUBLISHED,
                                    g_param_spec_uint64("published", "Published",
                                                        "Frames published on the bus", 0,
                                                        G_MAXUINT64, 0, ro));
    g_object_class_install_property(
        oc, PROP_COPIED,
        g_param_spec_uint64("copied", "Copied",
                            "Frames copied into a slot (the rest were drawn in place)", 0,
                            G_MAXUINT64, 0, ro));
    g_object_class_install_property(
        oc, PROP_DROPPED,
        g_param_spec_uint64("dropped", "Dropped",
                            "Frames dropped because a pool buffer taken earlier never came", 0,
                            G_MAXUINT64, 0, ro));

    gst_element_class_set_static_metadata(
        ec, "framebus video sink", "Sink/Video",
        "Publishes raw video on a framebus shared-memory bus (zero-copy through its pool)",
        "framebus");
    gst_element_class_add_pad_template(
        ec, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
    gst_caps_unref(caps);

    bc->render = gst_framebus_sink_render;
    bc->set_caps = gst_framebus_sink_set_caps;
    bc->propose_allocation = gst_framebus_sink_propose_allocation;
    bc->start = gst_framebus_sink_start;
    bc->stop = gst_framebus_sink_stop;
    bc->event = gst_framebus_sink_event;
    bc->unlock = gst_framebus_sink_unlock;
    bc->unlock_stop = gst_framebus_sink_unlock_stop;
}
