# pytest files of the Python module, run by ctest with the interpreter the
# module was built for (`-m pytest`), label `python`. Under the address
# sanitizer the instrumented module and library need the sanitizer runtime
# in the (uninstrumented) interpreter: it is preloaded.
execute_process(COMMAND ${Python3_EXECUTABLE} -c "import pytest"
    RESULT_VARIABLE _fbpy_no_pytest OUTPUT_QUIET ERROR_QUIET)
if(_fbpy_no_pytest)
    message(WARNING "framebus Python tests: not registered: ${Python3_EXECUTABLE} has no "
        "pytest (Debian: apt-get install python3-pytest)")
    return()
endif()
if(FBUS_SANITIZE MATCHES "thread")
    message(STATUS "framebus Python tests: not registered under ThreadSanitizer "
        "(the interpreter is not instrumented)")
    return()
endif()

set(_fbpy_env
    "PYTHONPATH=${PROJECT_BINARY_DIR}/python"
    "FBUS_BINDIR=${PROJECT_BINARY_DIR}"
    "PYTHONDONTWRITEBYTECODE=1")
if(FBUS_SANITIZE MATCHES "address")
    if(CMAKE_C_COMPILER_ID MATCHES "Clang")
        execute_process(COMMAND ${CMAKE_C_COMPILER}
            -print-file-name=libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so
            OUTPUT_VARIABLE _fbpy_asan OUTPUT_STRIP_TRAILING_WHITESPACE)
    else()
        execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
            OUTPUT_VARIABLE _fbpy_asan OUTPUT_STRIP_TRAILING_WHITESPACE)
        if(FBUS_SANITIZE MATCHES "undefined")
            execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libubsan.so
                OUTPUT_VARIABLE _fbpy_ubsan OUTPUT_STRIP_TRAILING_WHITESPACE)
            set(_fbpy_asan "${_fbpy_asan}:${_fbpy_ubsan}")
        endif()
    endif()
    message(STATUS "framebus Python tests: preloading ${_fbpy_asan}")
    # The interpreter's own allocations at exit are not ours to report.
    list(APPEND _fbpy_env "LD_PRELOAD=${_fbpy_asan}"
        "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0")
endif()

file(GLOB _fbpy_tests ${CMAKE_CURRENT_LIST_DIR}/test_*.py)
# The producer test runs the real framebus-producer and ffmpeg.
find_program(FBUS_FFMPEG ffmpeg)
if(NOT TARGET framebus-producer OR NOT FBUS_FFMPEG)
    message(WARNING "framebus Python tests: test_producer not registered "
        "(needs framebus-producer and ffmpeg)")
    list(FILTER _fbpy_tests EXCLUDE REGEX "test_producer\\.py$")
endif()
foreach(_t ${_fbpy_tests})
    get_filename_component(_n ${_t} NAME_WE)
    add_test(NAME python_${_n}
        COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider ${_t}
        WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
    set_tests_properties(python_${_n} PROPERTIES
        TIMEOUT 300 LABELS python ENVIRONMENT "${_fbpy_env}")
endforeach()
