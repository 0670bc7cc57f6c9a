/* SPDX-License-Identifier: MIT */
/*
 * GstVideoFormat <-> bus pixel-format names in one table, plane layouts from
 * GstVideoInfo, and the colour description in H.273 code points both ways.
 */
#include <string.h>

#include "formats.h"

struct format_pair {
    GstVideoFormat video;
    const char *pix_fmt;
    gboolean full_range; /* a "yuvj" name: read only, never written */
};

/* The first entry of a GStreamer format is the name the sink writes. */
static const struct format_pair pairs[] = {
    {GST_VIDEO_FORMAT_I420, "yuv420p", FALSE},
    {GST_VIDEO_FORMAT_I420, "yuvj420p", TRUE},
    {GST_VIDEO_FORMAT_Y42B, "yuv422p", FALSE},
    {GST_VIDEO_FORMAT_Y42B, "yuvj422p", TRUE},
    {GST_VIDEO_FORMAT_Y444, "yuv444p", FALSE},
    {GST_VIDEO_FORMAT_Y444, "yuvj444p", TRUE},
    {GST_VIDEO_FORMAT_A420, "yuva420p", FALSE},
    {GST_VIDEO_FORMAT_I420_10LE, "yuv420p10le", FALSE},
    {GST_VIDEO_FORMAT_I422_10LE, "yuv422p10le", FALSE},
    {GST_VIDEO_FORMAT_Y444_10LE, "yuv444p10le", FALSE},
    {GST_VIDEO_FORMAT_NV12, "nv12", FALSE},
    {GST_VIDEO_FORMAT_NV21, "nv21", FALSE},
    {GST_VIDEO_FORMAT_P010_10LE, "p010le", FALSE},
    {GST_VIDEO_FORMAT_YUY2, "yuyv422", FALSE},
    {GST_VIDEO_FORMAT_UYVY, "uyvy422", FALSE},
    {GST_VIDEO_FORMAT_GRAY8, "gray", FALSE},
    {GST_VIDEO_FORMAT_GRAY16_LE, "gray16le", FALSE},
    {GST_VIDEO_FORMAT_RGB, "rgb24", FALSE},
    {GST_VIDEO_FORMAT_BGR, "bgr24", FALSE},
    {GST_VIDEO_FORMAT_RGBA, "rgba", FALSE},
    {GST_VIDEO_FORMAT_BGRA, "bgra", FALSE},
    {GST_VIDEO_FORMAT_ARGB, "argb", FALSE},
    {GST_VIDEO_FORMAT_ABGR, "abgr", FALSE},
    {GST_VIDEO_FORMAT_RGBx, "rgb0", FALSE},
    {GST_VIDEO_FORMAT_BGRx, "bgr0", FALSE},
    {GST_VIDEO_FORMAT_xRGB, "0rgb", FALSE},
    {GST_VIDEO_FORMAT_xBGR, "0bgr", FALSE},
};

const char *gst_framebus_pixfmt_from_video(GstVideoFormat format)
{
    for (gsize i = 0; i < G_N_ELEMENTS(pairs); i++)
        if (pairs[i].video == format)
            return pairs[i].pix_fmt;
    return NULL;
}

GstVideoFormat gst_framebus_video_from_pixfmt(const char *pix_fmt, gboolean *full_range)
{
    for (gsize i = 0; i < G_N_ELEMENTS(pairs); i++) {
        if (strcmp(pairs[i].pix_fmt, pix_fmt) == 0) {
            if (full_range)
                *full_range = pairs[i].full_range;
            return pairs[i].video;
        }
    }
    return GST_VIDEO_FORMAT_UNKNOWN;
}

GstCaps *gst_framebus_all_caps(void)
{
    GValue list = G_VALUE_INIT, item = G_VALUE_INIT;
    GstCaps *caps = gst_caps_new_simple("video/x-raw", "width", GST_TYPE_INT_RANGE, 1, 32768,
                                        "height", GST_TYPE_INT_RANGE, 1, 32768, "framerate",
                                        GST_TYPE_FRACTION_RANGE, 0, 1, G_MAXINT, 1, NULL);

    g_value_init(&list, GST_TYPE_LIST);
    g_value_init(&item, G_TYPE_STRING);
    for (gsize i = 0; i < G_N_ELEMENTS(pairs); i++) {
        if (pairs[i].full_range)
            continue;
        g_value_set_string(&item, gst_video_format_to_string(pairs[i].video));
        gst_value_list_append_value(&list, &item);
    }
    gst_caps_set_value(caps, "format", &list);
    g_value_unset(&item);
    g_value_unset(&list);
    return caps;
}

int gst_framebus_format_from_info(const GstVideoInfo *info, gboolean bus_layout, fbus_format *fmt)
{
    const char *pix_fmt = gst_framebus_pixfmt_from_video(GST_VIDEO_INFO_FORMAT(info));
    int err;

    if (!pix_fmt)
        return FBUS_EFORMAT;
    err =
        fbus_format_init(fmt, pix_fmt, GST_VIDEO_INFO_WIDTH(info), GST_VIDEO_INFO_HEIGHT(info), 0);
    if (err < 0 || bus_layout)
        return err;
    /* The bus's row sizes and counts with GStreamer's offsets and strides. */
    fmt->size = 0;
    for (guint i = 0; i < fmt->nb_planes; i++) {
        fbus_plane *p = &fmt->planes[i];
        guint64 end;

        p->offset = GST_VIDEO_INFO_PLANE_OFFSET(info, i);
        p->stride = (uint32_t)GST_VIDEO_INFO_PLANE_STRIDE(info, i);
        end = p->offset + (guint64)p->stride * p->rows;
        if (end > fmt->size)
            fmt->size = end;
    }
    return fbus_format_check(fmt, 0);
}

gboolean gst_framebus_layout_matches(const fbus_format *fmt, const GstVideoInfo *info)
{
    if (fmt->nb_planes != GST_VIDEO_INFO_N_PLANES(info))
        return FALSE;
    for (guint i = 0; i < fmt->nb_planes; i++) {
        if (fmt->planes[i].offset != GST_VIDEO_INFO_PLANE_OFFSET(info, i) ||
            fmt->planes[i].stride != (guint)GST_VIDEO_INFO_PLANE_STRIDE(info, i))
            return FALSE;
    }
    return TRUE;
}

/* H.273 says 2 for "unspecified"; the bus says 0. */
static uint8_t iso_or_unknown(guint v)
{
    return v == 2 || v > 255 ? 0 : (uint8_t)v;
}

void gst_framebus_meta_from_info(const GstVideoInfo *info, fbus_meta *meta)
{
    const GstVideoColorimetry *c = &info->colorimetry;

    if (GST_VIDEO_INFO_FPS_N(info) > 0 && GST_VIDEO_INFO_FPS_D(info) > 0) {
        meta->rate_num = GST_VIDEO_INFO_FPS_N(info);
        meta->rate_den = GST_VIDEO_INFO_FPS_D(info);
    }
    if (GST_VIDEO_INFO_PAR_N(info) > 0 && GST_VIDEO_INFO_PAR_D(info) > 0) {
        meta->sar_num = GST_VIDEO_INFO_PAR_N(info);
        meta->sar_den = GST_VIDEO_INFO_PAR_D(info);
    }
    if (c->range == GST_VIDEO_COLOR_RANGE_0_255)
        meta->color.range = FBUS_RANGE_FULL;
    else if (c->range == GST_VIDEO_COLOR_RANGE_16_235)
        meta->color.range = FBUS_RANGE_LIMITED;
    /* RGB needs no matrix: H.273's 0 (identity) is also the bus's unknown. */
    if (GST_VIDEO_INFO_IS_YUV(info))
        meta->color.matrix = iso_or_unknown(gst_video_color_matrix_to_iso(c->matrix));
    meta->color.primaries = iso_or_unknown(gst_video_color_primaries_to_iso(c->primaries));
    meta->color.transfer = iso_or_unknown(gst_video_transfer_function_to_iso(c->transfer));
}

GstCaps *gst_framebus_caps_from_frame(const fbus_frame *frame, GstVideoInfo *info_out)
{
    const fbus_format *f = &frame->format;
    gboolean full_range = FALSE;
    GstVideoFormat vf = gst_framebus_video_from_pixfmt(f->pix_fmt, &full_range);
    GstVideoInfo info;
    GstVideoColorimetry *c = &info.colorimetry;

    if (vf == GST_VIDEO_FORMAT_UNKNOWN)
        return NULL;
    gst_video_info_init(&info);
    if (!gst_video_info_set_format(&info, vf, f->width, f->height))
        return NULL;
    if (frame->rate_num > 0 && frame->rate_den > 0) {
        GST_VIDEO_INFO_FPS_N(&info) = frame->rate_num;
        GST_VIDEO_INFO_FPS_D(&info) = frame->rate_den;
    } else {
        GST_VIDEO_INFO_FPS_N(&info) = 0; /* variable or unknown */
        GST_VIDEO_INFO_FPS_D(&info) = 1;
    }
    if (frame->sar_num > 0 && frame->sar_den > 0) {
        GST_VIDEO_INFO_PAR_N(&info) = frame->sar_num;
        GST_VIDEO_INFO_PAR_D(&info) = frame->sar_den;
    }
    if (frame->color.range == FBUS_RANGE_FULL || (full_range && !frame->color.range))
        c->range = GST_VIDEO_COLOR_RANGE_0_255;
    else if (frame->color.range == FBUS_RANGE_LIMITED)
        c->range = GST_VIDEO_COLOR_RANGE_16_235;
    if (GST_VIDEO_INFO_IS_YUV(&info) && frame->color.matrix) {
        GstVideoColorMatrix m = gst_video_color_matrix_from_iso(frame->color.matrix);
        if (m != GST_VIDEO_COLOR_MATRIX_UNKNOWN && m != GST_VIDEO_COLOR_MATRIX_RGB)
            c->matrix = m;
    }
    if (frame->color.primaries) {
        GstVideoColorPrimaries p = gst_video_color_primaries_from_iso(frame->color.primaries);
        if (p != GST_VIDEO_COLOR_PRIMARIES_UNKNOWN)
            c->primaries = p;
    }
    if (frame->color.transfer) {
        GstVideoTransferFunction t = gst_video_transfer_function_from_iso(frame->color.transfer);
        if (t != GST_VIDEO_TRANSFER_UNKNOWN)
            c->transfer = t;
    }
    /* The frame's own layout, so a GstVideoMeta can describe the slot. */
    for (guint i = 0; i < f->nb_planes && i < GST_VIDEO_MAX_PLANES; i++) {
        GST_VIDEO_INFO_PLANE_OFFSET(&info, i) = f->planes[i].offset;
        GST_VIDEO_INFO_PLANE_STRIDE(&info, i) = (gint)f->planes[i].stride;
    }
    GST_VIDEO_INFO_SIZE(&info) = f->size;
    if (info_out)
        *info_out = info;
    return gst_video_info_to_caps(&info);
}
