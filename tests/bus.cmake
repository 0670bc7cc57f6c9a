# Tests of the bus library (libframebus). Public tests link framebus::framebus;
# white-box tests that read or corrupt the region link framebus_internal.
# Helpers of other areas may use tests/testutil.h by adding ${FBUS_TESTUTIL}
# to their SOURCES.
set(FBUS_TESTUTIL ${CMAKE_CURRENT_SOURCE_DIR}/testutil.c)

# fbus_add_test for a bus test program: NAME.c with the shared fixture.
function(fbus_bus_test name)
    fbus_add_test(${name} SOURCES ${name}.c ${FBUS_TESTUTIL} ${ARGN})
endfunction()

fbus_bus_test(test_format
    LIBS framebus::framebus
    TIMEOUT 60)

fbus_bus_test(test_errors
    LIBS framebus::framebus
    TIMEOUT 120)

fbus_bus_test(test_layout
    LIBS framebus_internal
    TIMEOUT 60)

fbus_bus_test(test_validate
    LIBS framebus_internal
    TIMEOUT 120)

# The protocol label is what the ThreadSanitizer pass of tests/run-all.sh runs.
find_package(Threads REQUIRED)
fbus_bus_test(test_protocol
    LIBS framebus::framebus Threads::Threads
    TIMEOUT 240
    LABELS protocol)

fbus_bus_test(test_liveness
    LIBS framebus::framebus
    TIMEOUT 180
    LABELS protocol)

fbus_bus_test(test_threads
    LIBS framebus::framebus Threads::Threads
    TIMEOUT 240
    LABELS protocol)

fbus_bus_test(test_copy
    LIBS framebus::framebus
    TIMEOUT 120)

# Lossless readers in every start order, with real processes.
fbus_bus_test(test_startorder
    LIBS framebus::framebus
    TIMEOUT 300
    LABELS protocol)

# Regressions of the liveness and start-order protocol (issues 12 and 13);
# white-box for the test hook and the header words it checks.
fbus_bus_test(test_liveness2
    LIBS framebus_internal Threads::Threads
    TIMEOUT 300
    LABELS protocol)

# The heads-up of FBUS_READER_LOW_LATENCY: who sleeps on which futex, who
# wakes it; white-box for the header words.
fbus_bus_test(test_headsup
    LIBS framebus_internal
    TIMEOUT 180
    LABELS protocol)

# Who wakes a writer waiting for lossless readers (the last release of the
# oldest frame); white-box for the futex word.
fbus_bus_test(test_wakes
    LIBS framebus_internal Threads::Threads
    TIMEOUT 180
    LABELS protocol)

# FBUS_READER_LOW_LATENCY: every frame on both policies, a paused stream,
# a bounded spin.
fbus_bus_test(test_latency
    LIBS framebus::framebus
    TIMEOUT 120)

# Lending slots to a decoder (fbus_writer_lend): publish order, numbers,
# pixels, and a decoder in miniature with threads and a reader process.
fbus_bus_test(test_lend
    LIBS framebus_internal Threads::Threads
    TIMEOUT 240
    LABELS protocol)
