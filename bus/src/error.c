/* SPDX-License-Identifier: MIT */
/* Names for every error code the library returns. */
#include <errno.h>
#include <string.h>

#include "layout.h"

FBUS_EXTERN const char *fbus_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case FBUS_EBADNAME:
        return "invalid bus name (use 1-64 characters of A-Z a-z 0-9 . _ -)";
    case FBUS_EBADREGION:
        return "bus region is corrupt or not a framebus region";
    case FBUS_EVERSION:
        return "bus region has an incompatible layout version";
    case FBUS_EOVERRUN:
        return "frame was overwritten while it was read";
    case FBUS_EENDED:
        return "producer ended the stream";
    case FBUS_EPRODUCERGONE:
        return "producer is gone (died or stopped responding)";
    case FBUS_EREPLACED:
        return "producer moved to a new region";
    case FBUS_EBUSY:
        return "bus is held by a live producer";
    case FBUS_EFULL:
        return "too many readers on this bus";
    case FBUS_EFORMAT:
        return "unsupported pixel format or invalid frame format";
    case FBUS_ETOOBIG:
        return "frame or region size out of range";
    case FBUS_EOBSERVER:
        return "read-only access to this bus: cannot register as a reader";
    case FBUS_EOWNER:
        return "bus belongs to another user";
    case -ENOENT:
        return "no such bus";
    case -EEXIST:
        return "bus already exists";
    }
    if (err < 0 && err > -10000)
        return strerror(-err);
    return "unknown error";
}

FBUS_EXTERN unsigned fbus_layout_version(void)
{
    return FBUS__LAYOUT_VERSION;
}
