#!/usr/bin/env bash
# The main job: build framebus, start a producer on the built-in test
# pattern and a viewer on the same bus. With no display the viewer runs
# headless and says so. Extra arguments go to the viewer (e.g. --frames 300).
# It builds in build-demo/, so the README's build/ keeps its own settings
# (tests on).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFBUS_BUILD_PROGRAMS=ON -DFBUS_BUILD_TESTS=OFF >/dev/null
cmake --build build-demo -j "$(nproc)" >/dev/null
bus=demo-$$
build-demo/producer/framebus-producer --bus "$bus" --quiet &
producer=$!
# The demo's exit status is the viewer's (0 after q), not the stopped producer's.
trap 'kill $producer 2>/dev/null || true; wait $producer 2>/dev/null || true' EXIT
build-demo/viewer/framebus-viewer --bus "$bus" "$@"
