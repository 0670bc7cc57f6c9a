#!/usr/bin/env bash
# The whole test suite: a -Werror build with every test, the same suite
# under AddressSanitizer + UndefinedBehaviorSanitizer, and the protocol tests
# under ThreadSanitizer. Build trees go to build-ci-*/ beside the source.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

run() { # NAME CMAKE-ARGS... -- CTEST-ARGS...
    local name=$1; shift
    local cargs=() targs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do cargs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    targs=("$@")
    echo "=== $name"
    cmake -S . -B "build-ci-$name" -DFBUS_WERROR=ON "${cargs[@]}" >/dev/null
    cmake --build "build-ci-$name" -j "$jobs" >/dev/null
    ctest --test-dir "build-ci-$name" --output-on-failure -j "$jobs" "${targs[@]}"
}

run release -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run asan -DCMAKE_BUILD_TYPE=Debug "-DFBUS_SANITIZE=address;undefined" \
    -DCMAKE_C_COMPILER=clang
TSAN_OPTIONS=halt_on_error=1 \
    run tsan -DCMAKE_BUILD_TYPE=Debug -DFBUS_SANITIZE=thread \
    -DCMAKE_C_COMPILER=clang -DFBUS_BUILD_PROGRAMS=OFF -- -L protocol
