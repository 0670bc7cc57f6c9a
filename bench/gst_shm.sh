#!/usr/bin/env bash
# framebussink/framebussrc against shmsink/shmsrc on the same 1080p I420
# frames (videotestsrc pattern=black, N frames, readers into fakesink).
# Run from the source tree after building: GST_PLUGIN_PATH=build/gst.
# Usage: N=1200 bench/gst_shm.sh
set -u
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$PWD/build/gst}
N=${N:-600}
CAPS="video/x-raw,format=I420,width=1920,height=1080,framerate=30/1"
SRC="videotestsrc pattern=black num-buffers=$N ! $CAPS"
now() { date +%s.%N; }
rate() { awk -v n="$N" -v a="$1" -v b="$2" 'BEGIN { printf "%d frames in %.3f s: %.0f frames/s", n, b - a, n / (b - a) }'; }
# Both the same way: the writer starts first and waits for its reader; the
# clock runs from the reader's start to its end.
# framebus: the reader is lossless and ends at the stream's end.
gst-launch-1.0 -q $SRC ! framebussink bus=gbench-$$ wait-readers=1 sync=false &
w=$!
sleep 0.5
t0=$(now)
gst-launch-1.0 -q framebussrc bus=gbench-$$ policy=lossless ! fakesink sync=false
t1=$(now)
wait $w
echo "framebus: $(rate "$t0" "$t1")"
# shm: shmsink waits for the reader (the clock starts when the reader
# does); shmsrc never sees an end, so it stops after N buffers.
rm -f /tmp/gbench-$$.sock
gst-launch-1.0 -q $SRC ! shmsink socket-path=/tmp/gbench-$$.sock shm-size=100000000 wait-for-connection=true sync=false &
w=$!
sleep 0.5
t0=$(now)
gst-launch-1.0 -q shmsrc socket-path=/tmp/gbench-$$.sock is-live=true num-buffers=$N ! $CAPS ! fakesink sync=false
t1=$(now)
kill $w 2>/dev/null; wait $w 2>/dev/null
echo "shm: $(rate "$t0" "$t1")"
rm -f /tmp/gbench-$$.sock
