/* SPDX-License-Identifier: MIT */
/*
 * The pool framebussink offers upstream: a buffer from it is a bus slot, so
 * whatever upstream draws lands in shared memory and render only publishes.
 * The writer holds one slot at a time, so the pool lends at most one slot
 * buffer; a buffer asked for while any other is out is plain memory (render
 * copies it), which keeps publish order equal to buffer order and can never
 * block on a buffer that is itself waiting.
 */
#include <string.h>

#include "formats.h"
#include "gstframebussink.h"
#include "lentmem.h"

typedef struct {
    GstBufferPool parent;
    GstFramebusSink *sink;
    GstVideoInfo info;
    fbus_format fmt; /* the layout of the slot buffers */
    gboolean video_meta;
    gint outstanding; /* buffers handed out, not yet back (under sink->lock) */
    volatile gint flushing;
} GstFramebusSinkPool;

typedef struct {
    GstBufferPoolClass parent_class;
} GstFramebusSinkPoolClass;

GType gst_framebus_sink_pool_get_type(void);
G_DEFINE_TYPE(GstFramebusSinkPool, gst_framebus_sink_pool, GST_TYPE_BUFFER_POOL)

static const gchar **pool_options(GstBufferPool *pool)
{
    static const gchar *options[] = {GST_BUFFER_POOL_OPTION_VIDEO_META, NULL};
    return options;
}

static gboolean pool_set_config(GstBufferPool *bpool, GstStructure *config)
{
    GstFramebusSinkPool *pool = (GstFramebusSinkPool *)bpool;
    GstCaps *caps;
    guint size, min, max;

    if (!gst_buffer_pool_config_get_params(config, &caps, &size, &min, &max) || !caps ||
        !gst_video_info_from_caps(&pool->info, caps))
        return FALSE;
    pool->video_meta = gst_buffer_pool_config_has_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
    /* Upstream that reads GstVideoMeta gets the bus's own layout; one that
     * does not gets GStreamer's default layout in the slot. */
    if (gst_framebus_format_from_info(&pool->info, pool->video_meta, &pool->fmt) < 0)
        return FALSE;
    /* Buffers are made on demand and never kept: no minimum, no maximum. */
    gst_buffer_pool_config_set_params(config, caps, (guint)pool->info.size, 0, 0);
    return GST_BUFFER_POOL_CLASS(gst_framebus_sink_pool_parent_class)->set_config(bpool, config);
}

static void add_video_meta(GstFramebusSinkPool *pool, GstBuffer *buf, const fbus_format *fmt)
{
    gsize offset[GST_VIDEO_MAX_PLANES] = {0};
    gint stride[GST_VIDEO_MAX_PLANES] = {0};

    if (!pool->video_meta)
        return;
    for (guint i = 0; i < fmt->nb_planes && i < GST_VIDEO_MAX_PLANES; i++) {
        offset[i] = fmt->planes[i].offset;
        stride[i] = (gint)fmt->planes[i].stride;
    }
    gst_buffer_add_video_meta_full(
        buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&pool->info),
        GST_VIDEO_INFO_WIDTH(&pool->info), GST_VIDEO_INFO_HEIGHT(&pool->info), fmt->nb_planes,
        offset, stride);
}

static GstFlowReturn pool_acquire(GstBufferPool *bpool, GstBuffer **out,
                                  GstBufferPoolAcquireParams *params)
{
    GstFramebusSinkPool *pool = (GstFramebusSinkPool *)bpool;
    GstFramebusSink *sink = pool->sink;
    GstBuffer *buf = NULL;
    fbus_format def;

    g_mutex_lock(&sink->lock);
    if (sink->writer && !sink->slot_held && pool->outstanding == 0) {
        fbus_slot slot;
        int err = gst_framebus_sink_acquire_slot(sink, &pool->fmt, &pool->flushing, &slot);

        if (err == -1) {
            g_mutex_unlock(&sink->lock);
            return GST_FLOW_FLUSHING;
        }
        /* The wait may have let another buffer out: then this one copies. */
        if (err == 0 && (sink->slot_held || pool->outstanding > 0)) {
            fbus_writer_cancel(sink->writer, &slot);
        } else if (err == 0) {
            guint8 *base = slot.data[0] - slot.format.planes[0].offset;
            GstMemory *mem = gst_framebus_lent_memory_new(base, slot.format.size, FALSE);

            buf = gst_buffer_new();
            gst_buffer_append_memory(buf, mem);
            add_video_meta(pool, buf, &slot.format);
            sink->slot = slot;
            sink->slot_mem = gst_memory_ref(mem);
            sink->slot_held = TRUE;
        } else {
            GST_WARNING_OBJECT(sink, "no slot for the pool (%s): copying", fbus_strerror(err));
        }
    }
    if (!buf) {
        buf = gst_buffer_new_allocate(NULL, pool->info.size, NULL);
        if (buf && gst_framebus_format_from_info(&pool->info, FALSE, &def) == 0)
            add_video_meta(pool, buf, &def);
    }
    if (buf)
        pool->outstanding++;
    g_mutex_unlock(&sink->lock);
    *out = buf;
    return buf ? GST_FLOW_OK : GST_FLOW_ERROR;
}

/* Buffers are never reused: a slot buffer's slot went to the bus (or back
 * to the writer), and a fresh one is made for the next request. */
static void pool_release(GstBufferPool *bpool, GstBuffer *buf)
{
    GstFramebusSinkPool *pool = (GstFramebusSinkPool *)bpool;
    GstFramebusSink *sink = pool->sink;
    GstMemory *mem = gst_buffer_n_memory(buf) == 1 ? gst_buffer_peek_memory(buf, 0) : NULL;

    g_mutex_lock(&sink->lock);
    pool->outstanding--;
    if (sink->slot_held && mem == sink->slot_mem) {
        /* Never rendered (flushing, an error, upstream changed its mind). */
        if (GST_MINI_OBJECT_REFCOUNT_VALUE(mem) > 2)
            gst_framebus_lent_memory_detach(mem, 2 * G_TIME_SPAN_SECOND);
        fbus_writer_cancel(sink->writer, &sink->slot);
        gst_memory_unref(sink->slot_mem);
        sink->slot_mem = NULL;
        sink->slot_held = FALSE;
        g_cond_broadcast(&sink->cond);
    }
    g_mutex_unlock(&sink->lock);
    gst_buffer_unref(buf);
}

static void pool_flush_start(GstBufferPool *bpool)
{
    g_atomic_int_set(&((GstFramebusSinkPool *)bpool)->flushing, 1);
}

static void pool_flush_stop(GstBufferPool *bpool)
{
    g_atomic_int_set(&((GstFramebusSinkPool *)bpool)->flushing, 0);
}

static void pool_finalize(GObject *object)
{
    GstFramebusSinkPool *pool = (GstFramebusSinkPool *)object;

    gst_object_unref(pool->sink);
    G_OBJECT_CLASS(gst_framebus_sink_pool_parent_class)->finalize(object);
}

static void gst_framebus_sink_pool_class_init(GstFramebusSinkPoolClass *klass)
{
    GstBufferPoolClass *pc = GST_BUFFER_POOL_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = pool_finalize;
    pc->get_options = pool_options;
    pc->set_config = pool_set_config;
    pc->acquire_buffer = pool_acquire;
    pc->release_buffer = pool_release;
    pc->flush_start = pool_flush_start;
    pc->flush_stop = pool_flush_stop;
}

static void gst_framebus_sink_pool_init(GstFramebusSinkPool *pool)
{
}

GstBufferPool *gst_framebus_sink_pool_new(GstFramebusSink *sink)
{
    GstFramebusSinkPool *pool = g_object_new(gst_framebus_sink_pool_get_type(), NULL);

    gst_object_ref_sink(pool);
    pool->sink = gst_object_ref(sink);
    return GST_BUFFER_POOL(pool);
}
