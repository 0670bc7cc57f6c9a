/* SPDX-License-Identifier: MIT */
/*
 * The framebus GStreamer plugin: framebussink and framebussrc, and the enum
 * types their properties share.
 */
#include <gst/gst.h>

#include "framebus/framebus.h"
#include "gstframebussink.h"
#include "gstframebussrc.h"

GType gst_framebus_transport_get_type(void);
GType gst_framebus_policy_get_type(void);

GType gst_framebus_transport_get_type(void)
{
    static GType type;
    static const GEnumValue values[] = {
        {FBUS_TRANSPORT_POSIX, "POSIX shared memory (/dev/shm/framebus.NAME)", "posix"},
        {FBUS_TRANSPORT_SYSV, "System V shared memory", "sysv"},
        {0, NULL, NULL},
    };

    if (g_once_init_enter(&type)) {
        GType t = g_enum_register_static("GstFramebusTransport", values);
        g_once_init_leave(&type, t);
    }
    return type;
}

GType gst_framebus_policy_get_type(void)
{
    static GType type;
    static const GEnumValue values[] = {
        {FBUS_POLICY_LATEST, "The newest frame; never holds the producer back", "latest"},
        {FBUS_POLICY_LOSSLESS, "Every frame in order; the producer waits for this reader",
         "lossless"},
        {0, NULL, NULL},
    };

    if (g_once_init_enter(&type)) {
        GType t = g_enum_register_static("GstFramebusPolicy", values);
        g_once_init_leave(&type, t);
    }
    return type;
}

static gboolean plugin_init(GstPlugin *plugin)
{
    gst_type_mark_as_plugin_api(gst_framebus_transport_get_type(), 0);
    gst_type_mark_as_plugin_api(gst_framebus_policy_get_type(), 0);
    return gst_element_register(plugin, "framebussink", GST_RANK_NONE, GST_TYPE_FRAMEBUS_SINK) &&
           gst_element_register(plugin, "framebussrc", GST_RANK_NONE, GST_TYPE_FRAMEBUS_SRC);
}

#define PACKAGE "framebus"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, framebus,
                  "Raw video over framebus shared-memory buses", plugin_init, FBUS_GST_VERSION,
                  "MIT", "framebus", "framebus")
