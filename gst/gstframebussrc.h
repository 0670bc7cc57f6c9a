/* SPDX-License-Identifier: MIT */
/*
 * framebussrc: a live source that reads a bus and pushes buffers that point
 * into its shared memory.
 */
#ifndef GST_FRAMEBUS_SRC_H
#define GST_FRAMEBUS_SRC_H

#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>

#include "framebus/framebus.h"

G_BEGIN_DECLS

#define GST_TYPE_FRAMEBUS_SRC (gst_framebus_src_get_type())
G_DECLARE_FINAL_TYPE(GstFramebusSrc, gst_framebus_src, GST, FRAMEBUS_SRC, GstPushSrc)

G_END_DECLS

#endif
