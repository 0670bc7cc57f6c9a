# Hardening (issue 7): fuzz targets, fault injection, hostile regions,
# permissions and resource limits. See docs/security.md and docs/fuzzing.md.
#
# Every fuzz target is built twice over: as a ctest program that replays its
# committed seed corpus through a small main (any compiler, any sanitizer),
# and, with -DFBUS_FUZZ=ON and clang, as a libFuzzer binary for long runs.
option(FBUS_FUZZ "Build libFuzzer targets (clang only)" OFF)

if(NOT DEFINED FBUS_TESTUTIL)
    set(FBUS_TESTUTIL ${CMAKE_CURRENT_LIST_DIR}/testutil.c)
endif()
set(_fz ${CMAKE_CURRENT_LIST_DIR}/fuzz)
set(_hd ${CMAKE_CURRENT_LIST_DIR})

# --- fuzz targets: replay of the seed corpus in ctest
fbus_add_test(fuzz_region_replay
    SOURCES ${_fz}/fuzz_region.c ${_fz}/region_check.c ${_fz}/fuzz_main.c
    LIBS framebus_internal
    TIMEOUT 120
    LABELS fuzz)
target_include_directories(fuzz_region_replay PRIVATE ${_fz})
target_compile_definitions(fuzz_region_replay PRIVATE FUZZ_CORPUS_DIR="${_fz}/corpus/region")

# The y4m parser is part of the framebus command's core library.
if(TARGET framebus_tools_core)
    fbus_add_test(fuzz_y4m_replay
        SOURCES ${_fz}/fuzz_y4m.c ${_fz}/fuzz_main.c
        LIBS framebus_tools_core
        TIMEOUT 60
        LABELS fuzz)
    target_compile_definitions(fuzz_y4m_replay PRIVATE FUZZ_CORPUS_DIR="${_fz}/corpus/y4m")
else()
    message(STATUS "fuzz_y4m_replay: not built (FBUS_BUILD_PROGRAMS=OFF)")
endif()

# --- libFuzzer binaries (not tests): build/tests/fuzz_*_fuzzer CORPUS_DIR
if(FBUS_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "FBUS_FUZZ needs clang (-DCMAKE_C_COMPILER=clang)")
    endif()
    # Coverage feedback for the library too, not just the target files.
    target_compile_options(fbus_build_flags INTERFACE -fsanitize=fuzzer-no-link)
    add_executable(fuzz_region_fuzzer ${_fz}/fuzz_region.c ${_fz}/region_check.c)
    target_include_directories(fuzz_region_fuzzer PRIVATE ${_fz})
    target_link_libraries(fuzz_region_fuzzer PRIVATE framebus_internal fbus_build_flags)
    target_link_options(fuzz_region_fuzzer PRIVATE -fsanitize=fuzzer)
    if(TARGET framebus_tools_core)
        add_executable(fuzz_y4m_fuzzer ${_fz}/fuzz_y4m.c)
        target_link_libraries(fuzz_y4m_fuzzer PRIVATE framebus_tools_core fbus_build_flags)
        target_link_options(fuzz_y4m_fuzzer PRIVATE -fsanitize=fuzzer)
    endif()
    # Writes the region seed corpus (see docs/fuzzing.md).
    add_executable(fuzz_region_seeds ${_fz}/make_region_seeds.c ${FBUS_TESTUTIL})
    target_include_directories(fuzz_region_seeds PRIVATE ${_fz} ${_hd})
    target_link_libraries(fuzz_region_seeds PRIVATE framebus_internal fbus_build_flags)
endif()

# --- fault injection: SIGKILL producers and readers, both transports.
# Fork-based, no shared-memory tricks TSan cannot follow: part of "protocol".
fbus_add_test(test_fault
    SOURCES ${_hd}/test_fault.c ${FBUS_TESTUTIL}
    LIBS framebus_internal
    TIMEOUT 180
    LABELS protocol)
if(TARGET framebus_cmd)
    target_compile_definitions(test_fault PRIVATE FBUS_CMD_PATH="$<TARGET_FILE:framebus_cmd>")
endif()

# --- hostile region: a writer-side process scribbles over the control part
# while readers (and framebus cat / the viewer, when built) are attached.
fbus_add_test(test_hostile
    SOURCES ${_hd}/test_hostile.c ${_fz}/region_check.c ${FBUS_TESTUTIL}
    LIBS framebus_internal
    TIMEOUT 120)
target_include_directories(test_hostile PRIVATE ${_fz})
if(TARGET framebus_cmd)
    target_compile_definitions(test_hostile PRIVATE
        FBUS_CMD_PATH="$<TARGET_FILE:framebus_cmd>")
endif()
if(TARGET framebus-viewer)
    target_compile_definitions(test_hostile PRIVATE
        FBUS_VIEWER_PATH="$<TARGET_FILE:framebus-viewer>")
endif()

# --- permissions between users (drops root in forked children).
fbus_add_test(test_perms
    SOURCES ${_hd}/test_perms.c ${FBUS_TESTUTIL}
    LIBS framebus_internal
    TIMEOUT 60)

# --- resource limits: sizes, slot counts, a full /dev/shm.
fbus_add_test(test_limits
    SOURCES ${_hd}/test_limits.c ${FBUS_TESTUTIL}
    LIBS framebus_internal
    TIMEOUT 60)
