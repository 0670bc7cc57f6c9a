/* SPDX-License-Identifier: MIT */
/* Turning decoded frames upright by their stream's display matrix. */
#ifndef PROD_ROTATE_H
#define PROD_ROTATE_H

#include <stdint.h>

#include <libavutil/frame.h>

/* Clockwise degrees (0, 90, 180 or 270) that stand a picture with this
 * display matrix upright; 0 for none or anything but a quarter turn. */
int prod_rotation_of(const int32_t *matrix);
/* Whether frames of fmt can be turned by degrees without conversion. */
int prod_rotatable(enum AVPixelFormat fmt, int degrees);
/* dst = src turned clockwise by degrees (90, 180, 270): 0 or an AVERROR. */
int prod_rotate(AVFrame *dst, const AVFrame *src, int degrees);

#endif
