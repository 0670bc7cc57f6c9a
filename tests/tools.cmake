# Tests of the framebus command (tools/). test_y4m is a unit test of the
# y4m parser; the others run the real `framebus` binary, with the ffmpeg
# command-line tool where a pipe is checked end to end.
if(TARGET framebus_tools_core)
    fbus_add_test(test_y4m
        SOURCES test_y4m.c
        LIBS framebus_tools_core
        TIMEOUT 30
        LABELS tools)

    foreach(t test_tools_cli test_tools_errors test_tools_pipe test_tools_net)
        fbus_add_test(${t}
            SOURCES ${t}.c test_tools_util.c ${FBUS_TESTUTIL}
            LIBS framebus::framebus
            TIMEOUT 180
            LABELS tools)
        add_dependencies(${t} framebus_cmd)
    endforeach()
    # framebus-producer -> bus -> framebus cat: the metadata of recordings.
    if(TARGET framebus-producer)
        fbus_add_test(test_tools_meta
            SOURCES test_tools_meta.c test_tools_util.c ${FBUS_TESTUTIL}
            LIBS framebus::framebus
            TIMEOUT 300
            LABELS tools)
        add_dependencies(test_tools_meta framebus_cmd framebus-producer)
    else()
        message(STATUS "test_tools_meta: not built (no framebus-producer)")
    endif()
    # The installed programs run from any prefix (install RPATH).
    if(TARGET framebus-producer AND TARGET framebus-viewer)
        fbus_add_test(test_install
            SOURCES test_install.c test_tools_util.c ${FBUS_TESTUTIL}
            LIBS framebus::framebus
            TIMEOUT 180
            LABELS programs)
        add_dependencies(test_install framebus_cmd framebus-producer framebus-viewer)
    else()
        message(STATUS "test_install: not built (producer or viewer not built)")
    endif()
else()
    message(STATUS "tests of the framebus command: not built (FBUS_BUILD_PROGRAMS=OFF)")
endif()
