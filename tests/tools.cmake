# Tests of the framebus command (tools/). test_y4m is a unit test of the
# y4m parser; the others run the real `framebus` binary, with the ffmpeg
# command-line tool where a pipe is checked end to end.
fbus_add_test(test_y4m
    SOURCES test_y4m.c ${PROJECT_SOURCE_DIR}/tools/y4m.c
    TIMEOUT 30
    LABELS tools)
target_include_directories(test_y4m PRIVATE ${PROJECT_SOURCE_DIR}/tools)

if(TARGET framebus_cmd)
    foreach(t test_tools_cli test_tools_errors test_tools_pipe test_tools_net)
        fbus_add_test(${t}
            SOURCES ${t}.c test_tools_util.c ${FBUS_TESTUTIL}
            LIBS framebus::framebus
            TIMEOUT 180
            LABELS tools)
        add_dependencies(${t} framebus_cmd)
    endforeach()
endif()
