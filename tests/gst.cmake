# Tests of the GStreamer plugin (gst/): real pipelines in a cmocka program,
# with framebus-producer, `framebus cat` and ffmpeg as other processes, and
# OpenCV reading through framebussrc from Debian's /usr/bin/python3.
if(TARGET gstframebus)
    pkg_check_modules(GST_TEST IMPORTED_TARGET gstreamer-app-1.0 gstreamer-video-1.0)
    find_program(FBUS_FFMPEG ffmpeg)
    if(NOT FBUS_BUILD_PROGRAMS)
        message(STATUS "framebus: test_gst needs the programs (FBUS_BUILD_PROGRAMS=OFF): not built")
    elseif(NOT GST_TEST_FOUND OR NOT FBUS_FFMPEG)
        message(WARNING "framebus: test_gst needs gstreamer-app-1.0 and ffmpeg: not registered")
    else()
        fbus_add_test(test_gst
            SOURCES test_gst.c ${FBUS_TESTUTIL}
            LIBS framebus::framebus PkgConfig::GST_TEST
            TIMEOUT 300
            LABELS gst)
        add_dependencies(test_gst gstframebus framebus-producer framebus_cmd)
        # Full stacks, so that only the system libraries' own allocations are
        # suppressed (with fast unwinding every stack ends in g_malloc).
        set_tests_properties(test_gst PROPERTIES ENVIRONMENT
            "LSAN_OPTIONS=fast_unwind_on_malloc=0:suppressions=${CMAKE_CURRENT_SOURCE_DIR}/gst-lsan.supp")
    endif()

    execute_process(COMMAND /usr/bin/python3 -c "import cv2; import sys; sys.exit(0 if 'GStreamer:                   YES' in cv2.getBuildInformation() else 1)"
        RESULT_VARIABLE _fbus_cv2 OUTPUT_QUIET ERROR_QUIET)
    if(NOT FBUS_BUILD_PROGRAMS)
        # test_gst said so already.
    elseif(FBUS_SANITIZE)
        # An uninstrumented python cannot load the instrumented plugin.
        message(STATUS "framebus: test_gst_opencv runs in builds without sanitizers only")
    elseif(_fbus_cv2 EQUAL 0)
        add_test(NAME test_gst_opencv
            COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_gst_opencv.py
                    ${PROJECT_BINARY_DIR})
        set_tests_properties(test_gst_opencv PROPERTIES TIMEOUT 120 LABELS gst
            ENVIRONMENT "GST_PLUGIN_PATH=${PROJECT_BINARY_DIR}/gst;GST_REGISTRY=${PROJECT_BINARY_DIR}/gst/opencv-registry.bin")
    else()
        message(WARNING "framebus: /usr/bin/python3 has no OpenCV built with GStreamer "
            "(python3-opencv): test_gst_opencv not registered")
    endif()
endif()
