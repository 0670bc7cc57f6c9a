/* SPDX-License-Identifier: MIT */
/* Key bindings of the viewer window, apart from SDL so they can be tested. */
#include "viewer.h"

enum viewer_action viewer_key_action(SDL_Keycode key, uint16_t mod)
{
    /* Leave shortcuts with Ctrl, Alt or the GUI key to the window manager. */
    if (mod & (KMOD_CTRL | KMOD_ALT | KMOD_GUI))
        return VIEWER_ACTION_NONE;
    switch (key) {
    case SDLK_q:
    case SDLK_ESCAPE:
        return VIEWER_ACTION_QUIT;
    case SDLK_f:
        return VIEWER_ACTION_FULLSCREEN;
    case SDLK_SPACE:
    case SDLK_p:
        return VIEWER_ACTION_PAUSE;
    case SDLK_s:
        return VIEWER_ACTION_SCREENSHOT;
    case SDLK_o:
        return VIEWER_ACTION_OVERLAY;
    default:
        return VIEWER_ACTION_NONE;
    }
}
