#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/demo.sh leaves the README's build/ alone: it never configures,
# builds or writes build/, so `cmake -S . -B build` afterwards still has its
# tests. The real script runs in a scratch copy of the tree, with a stand-in
# `cmake` first on PATH that records its arguments and leaves what a
# configure and a build would (a cache, the two programs), so nothing is
# compiled. Usage: test_demo.sh SOURCE_DIR
set -euo pipefail
src=$(realpath "${1:?usage: test_demo.sh SOURCE_DIR}")
tmp=$(mktemp -d /tmp/test_demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
repo=$tmp/repo
export FBUS_TEST_LOG=$tmp/log
: >"$FBUS_TEST_LOG"

fail() {
    echo "test_demo: FAIL: $*" >&2
    echo "--- what the demo ran (cwd: command):" >&2
    cat "$FBUS_TEST_LOG" >&2
    exit 1
}

mkdir -p "$repo/scripts" "$repo/build" "$tmp/bin"
cp "$src/scripts/demo.sh" "$repo/scripts/demo.sh"
# The packages are the real install-deps.sh's business, not this test's.
printf '#!/bin/sh\nexit 0\n' >"$repo/scripts/install-deps.sh"
chmod +x "$repo/scripts/demo.sh" "$repo/scripts/install-deps.sh"

# build/ as the README's Build section leaves it: configured with the tests.
printf 'FBUS_BUILD_TESTS:BOOL=ON\nCMAKE_BUILD_TYPE:STRING=\n' >"$repo/build/CMakeCache.txt"
before=$(cd "$repo/build" && find . -printf '%p %s %T@\n' | sort && cksum CMakeCache.txt)

cat >"$tmp/bin/cmake" <<'EOF'
#!/usr/bin/env bash
# Stand-in cmake: log the call, then leave what the real one would.
printf '%s: cmake %s\n' "$PWD" "$*" >>"$FBUS_TEST_LOG"
dir='' build=0
while [ $# -gt 0 ]; do
    case $1 in
    -B) dir=$2; shift ;;
    -B?*) dir=${1#-B} ;;
    --build) build=1; dir=$2; shift ;;
    esac
    shift
done
[ -n "$dir" ] || { echo "cmake stand-in: no -B or --build directory" >&2; exit 1; }
if [ "$build" = 1 ]; then
    # The producer runs until the demo stops it; the viewer until the user
    # quits it (at once here).
    mkdir -p "$dir/producer" "$dir/viewer"
    printf '#!/bin/sh\necho "$PWD: producer/framebus-producer $*" >>"$FBUS_TEST_LOG"\nexec sleep 60\n' \
        >"$dir/producer/framebus-producer"
    printf '#!/bin/sh\necho "$PWD: viewer/framebus-viewer $*" >>"$FBUS_TEST_LOG"\n' \
        >"$dir/viewer/framebus-viewer"
    chmod +x "$dir/producer/framebus-producer" "$dir/viewer/framebus-viewer"
else
    mkdir -p "$dir"
    echo "# written by the demo's configure" >"$dir/CMakeCache.txt"
fi
EOF
chmod +x "$tmp/bin/cmake"

PATH=$tmp/bin:$PATH "$repo/scripts/demo.sh" --frames 1 >"$tmp/out" 2>&1 ||
    fail "demo.sh exited $?: $(cat "$tmp/out")"

# It ran to its end: configured, built, started both programs.
grep -q ': cmake .*-S ' "$FBUS_TEST_LOG" || fail "the demo never configured"
grep -q ': cmake --build ' "$FBUS_TEST_LOG" || fail "the demo never built"
grep -q 'viewer/framebus-viewer .*--frames 1' "$FBUS_TEST_LOG" ||
    fail "the demo never started the viewer (with its arguments)"

# Every directory cmake was pointed at is something other than build/.
while read -r line; do
    cwd=${line%%: cmake *}
    set -- ${line#*: cmake }
    while [ $# -gt 0 ]; do
        case $1 in
        -B | --build) d=$2; shift ;;
        -B?*) d=${1#-B} ;;
        *) d='' ;;
        esac
        shift
        [ -n "$d" ] || continue
        [ "$(realpath -m "$cwd/$d")" != "$repo/build" ] ||
            fail "the demo runs cmake on build/, the README's build directory: $line"
    done
done < <(grep ': cmake ' "$FBUS_TEST_LOG")

after=$(cd "$repo/build" && find . -printf '%p %s %T@\n' | sort && cksum CMakeCache.txt)
[ "$before" = "$after" ] || fail "the demo changed build/ (before: $before; after: $after)"
echo "test_demo: the demo built in its own directory and left build/ as it was"
