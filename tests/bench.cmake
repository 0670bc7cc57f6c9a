# Tests of `framebus bench` (bench/ and tools/bench.c): they run the real command, so
# they need the program, which the TSan build does not make.
if(TARGET framebus_cmd)
    fbus_add_test(test_bench
        SOURCES test_bench.c
        TIMEOUT 120
        LABELS tools bench)
    add_dependencies(test_bench framebus_cmd)
else()
    message(STATUS "test_bench: not built (FBUS_BUILD_PROGRAMS=OFF)")
endif()

# bench_iceoryx (built when iceoryx's C binding is found): every frame
# arrives with its checksum, lossless and paced; its one-line errors. It
# takes /tmp/framebus-iceoryx.lock itself (one RouDi per machine), so it
# cannot meet another build's run.
if(TARGET bench_iceoryx)
    fbus_add_test(test_iceoryx
        SOURCES test_iceoryx.c test_tools_util.c ${FBUS_TESTUTIL}
        LIBS framebus::framebus
        TIMEOUT 300
        LABELS bench iceoryx)
    add_dependencies(test_iceoryx bench_iceoryx)
    message(STATUS "test_iceoryx: built")
else()
    message(STATUS "test_iceoryx: not built (no bench_iceoryx: iceoryx's C binding not found)")
endif()
