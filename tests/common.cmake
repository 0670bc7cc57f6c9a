# Tests of common/: the libav adapter's plane tables, and the bus library's
# own, against libavutil for every pixel format it knows.
if(TARGET framebus_avplanes)
    fbus_add_test(test_avplanes
        SOURCES test_avplanes.c
        LIBS framebus_avplanes
        TIMEOUT 60
        LABELS common)
else()
    message(STATUS "test_avplanes: not built (FBUS_BUILD_PROGRAMS=OFF)")
endif()
