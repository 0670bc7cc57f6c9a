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
