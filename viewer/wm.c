/* SPDX-License-Identifier: MIT */
/*
 * Is there a window manager to honour a fullscreen request? On X11 without
 * one (kiosks: xinit with no WM) SDL's fullscreen asks a WM that is not
 * there: the window keeps its size while SDL draws for the whole screen.
 * The EWMH says a compliant WM sets _NET_SUPPORTING_WM_CHECK on the root
 * window to a child window that carries the same property.
 */
#include "viewer.h"

#ifdef VIEWER_HAVE_X11
#include <SDL_syswm.h>
#include <X11/Xatom.h>
#include <X11/Xlib.h>

/* The window named by property `check` of w, or None. */
static Window check_window(Display *dpy, Window w, Atom check)
{
    Atom type = None;
    int format = 0;
    unsigned long n = 0, left = 0;
    unsigned char *data = NULL;
    Window found = None;

    if (XGetWindowProperty(dpy, w, check, 0, 1, False, XA_WINDOW, &type, &format, &n, &left,
                           &data) == Success &&
        type == XA_WINDOW && format == 32 && n == 1 && data)
        found = *(Window *)(void *)data;
    if (data)
        XFree(data);
    return found;
}

/* A BadWindow from a stale check window means no WM, not an exit. */
static int ignore_error(Display *dpy, XErrorEvent *e)
{
    (void)dpy;
    (void)e;
    return 0;
}

int viewer_window_manager(SDL_Window *window)
{
    SDL_SysWMinfo info;

    SDL_VERSION(&info.version);
    if (!SDL_GetWindowWMInfo(window, &info) || info.subsystem != SDL_SYSWM_X11)
        return 1; /* Wayland and others always have a compositor */
    Display *dpy = info.info.x11.display;
    Atom check = XInternAtom(dpy, "_NET_SUPPORTING_WM_CHECK", True);
    if (check == None)
        return 0; /* no client ever named the atom: no EWMH WM */
    XSync(dpy, False);
    int (*old)(Display *, XErrorEvent *) = XSetErrorHandler(ignore_error);
    Window child = check_window(dpy, DefaultRootWindow(dpy), check);
    int wm = child != None && check_window(dpy, child, check) == child;
    XSync(dpy, False);
    XSetErrorHandler(old);
    return wm;
}
#else
int viewer_window_manager(SDL_Window *window)
{
    (void)window;
    return 1; /* built without X11 headers: trust SDL's fullscreen */
}
#endif
