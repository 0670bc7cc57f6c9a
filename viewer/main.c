/* SPDX-License-Identifier: MIT */
/*
 * framebus-viewer: parse the options, decide between a window and headless
 * rendering, install the signal handlers and run the frame loop.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "viewer.h"

static void on_signal(int sig)
{
    (void)sig;
    viewer_stop = 1;
}

int main(int argc, char **argv)
{
    struct viewer_opts o;
    struct sigaction sa;
    int rc = viewer_parse_args(argc, argv, &o);

    if (rc != VIEWER_RUN)
        return rc;
    if (!o.headless) {
        const char *x = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
        if ((!x || !*x) && (!wl || !*wl))
            o.headless = 1;
    }
    /* libswscale and the PNG encoder report through av_log; the viewer
     * reports its own errors. */
    av_log_set_level(AV_LOG_ERROR);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    return viewer_run(&o);
}
