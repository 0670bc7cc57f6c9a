#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Viewer benchmark (docs/viewer.md, "Benchmark"): the cost of one frame
# (acquire + upload + release) at 1080p per pixel format, and the viewer's
# private memory at 720p and 4K, which shows that frames are read in place.
# Usage: bench/viewer.sh [BUILD_DIR]   (default: build)
set -euo pipefail
build=${1:-build}
producer=$build/producer/framebus-producer
viewer=$build/viewer/framebus-viewer
bus=viewer-bench-$$
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "== cost per 1920x1080 frame, producer at full speed, headless software renderer"
for fmt in yuv420p nv12 yuyv422 rgb24 bgr0 yuv444p; do
    "$producer" -q --bus "$bus" --size 1920x1080 --pix-fmt "$fmt" --fps max &
    pids=($!)
    line=$("$viewer" --headless --no-vsync --stats 0 --bus "$bus" --frames 300 2>&1 |
        grep 'shown')
    kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
    printf '%-8s %s\n' "$fmt" "${line#framebus-viewer: }"
done

echo "== memory of a viewer after 5 s (kB), 30 fps producer"
for fmt in yuv420p yuv444p; do
    for size in 1280x720 3840x2160; do
        "$producer" -q --bus "$bus" --size "$size" --pix-fmt "$fmt" --fps 30 &
        p=$!
        "$viewer" --headless --no-vsync --stats 0 --bus "$bus" 2>/dev/null &
        v=$!
        pids=("$p" "$v")
        sleep 5
        priv=$(awk '/^Private_Dirty/ {print $2}' /proc/$v/smaps_rollup)
        rss=$(awk '/^Rss/ {print $2}' /proc/$v/smaps_rollup)
        # The bus mapping: the frames the viewer read, in place (shared).
        shm=$(awk -v b="framebus.$bus" '$0 ~ b {m=1; next} /^[0-9a-f]+-/ {m=0}
            m && /^Rss/ {r+=$2} m && /^Private_Dirty/ {d+=$2} END {printf "%d %d", r, d}' \
            /proc/$v/smaps)
        kill "$v" "$p"; wait "$v" "$p" 2>/dev/null || true
        printf '%-8s %-10s Rss %7s  Private_Dirty %7s  bus mapping Rss/Private_Dirty %s\n' \
            "$fmt" "$size" "$rss" "$priv" "$shm"
    done
done
