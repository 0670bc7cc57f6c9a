# Tests of framebus-viewer (viewer/). The end-to-end test runs the real
# program headless, so it needs the programs, which the TSan build skips.
if(TARGET framebus-viewer)
    fbus_add_test(test_viewer_units
        SOURCES test_viewer_units.c
        LIBS framebus_viewer_core
        TIMEOUT 30
        LABELS viewer)

    fbus_add_test(test_viewer_e2e
        SOURCES test_viewer_e2e.c ${CMAKE_CURRENT_SOURCE_DIR}/testutil.c
        LIBS framebus::framebus rt
        TIMEOUT 240
        LABELS viewer)
    add_dependencies(test_viewer_e2e framebus-viewer framebus-producer)
else()
    message(STATUS "tests of the viewer: not built (FBUS_BUILD_PROGRAMS=OFF)")
endif()

# The keys, pressed for real in a window on a private Xvfb, and fullscreen
# on a screen without a window manager; X11 comes with libsdl2-dev.
find_package(X11)
find_program(FBUS_XVFB Xvfb)
if(TARGET framebus-viewer AND X11_FOUND AND FBUS_XVFB)
    fbus_add_test(test_viewer_keys
        SOURCES test_viewer_keys.c ${CMAKE_CURRENT_SOURCE_DIR}/testutil.c
        LIBS framebus::framebus X11::X11
        TIMEOUT 120
        LABELS viewer)
    add_dependencies(test_viewer_keys framebus-viewer)
else()
    message(WARNING "test_viewer_keys: not built (needs the programs, X11 and Xvfb: "
                    "scripts/install-deps.sh)")
endif()
