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
#define FBUS_ERROR_CASE_(name, value, text)                                                        \
    case name:                                                                                     \
        return text;
        FBUS_ERRORS(FBUS_ERROR_CASE_)
#undef FBUS_ERROR_CASE_
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
