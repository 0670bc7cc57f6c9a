/* SPDX-License-Identifier: MIT */
/*
 * framebussink: a video sink that creates a bus and publishes every buffer
 * on it, zero-copy when upstream renders into the buffers of its pool.
 */
#ifndef GST_FRAMEBUS_SINK_H
#define GST_FRAMEBUS_SINK_H

#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>

#include "framebus/framebus.h"

G_BEGIN_DECLS

#define GST_TYPE_FRAMEBUS_SINK (gst_framebus_sink_get_type())
G_DECLARE_FINAL_TYPE(GstFramebusSink, gst_framebus_sink, GST, FRAMEBUS_SINK, GstBaseSink)

struct _GstFramebusSink {
    GstBaseSink parent;

    /* Properties, under the object lock. */
    gchar *bus;
    fbus_transport transport;
    guint slots;
    gchar *mode;
    gint wait_readers;
    gboolean zero_copy;

    /* Everything below, and every call on the writer, under `lock`. */
    GMutex lock;
    GCond cond; /* the pool's slot came back; unlocked */
    fbus_writer *writer;
    char name[FBUS_NAME_MAX + 1]; /* of the bus the writer made */
    GstVideoInfo info;            /* of the current caps */
    gboolean have_info;
    fbus_format fmt; /* the bus layout of info */
    fbus_meta meta;  /* rate, aspect and colour of the caps */
    gboolean waited; /* wait-readers done for this writer */
    gboolean unlocked;
    /* The slot a pool buffer holds, until render publishes it. */
    gboolean slot_held;
    fbus_slot slot;
    GstMemory *slot_mem;
    /* Published slots that buffers still point at: their bytes are copied
     * out before the writer may reuse the slots. */
    GPtrArray *lent;
    guint64 published, copied, dropped, copied_out;
};

/* Get a slot for fmt, waiting for lossless readers in short steps so that
 * *stop (or unlock) interrupts it. Called and returns with `lock` held.
 * 0, or GST_FLOW_FLUSHING as -1, or an fbus error code. */
int gst_framebus_sink_acquire_slot(GstFramebusSink *sink, const fbus_format *fmt,
                                   const volatile gint *stop, fbus_slot *slot);

/* The zero-copy pool (sinkpool.c). */
GstBufferPool *gst_framebus_sink_pool_new(GstFramebusSink *sink);

G_END_DECLS

#endif
