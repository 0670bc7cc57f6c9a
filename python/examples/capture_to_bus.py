#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Publish a camera or a video file on a framebus bus with OpenCV.

    python3 capture_to_bus.py                 # camera 0 on bus "cam"
    python3 capture_to_bus.py clip.mp4 --bus cam --loop
    python3 capture_to_bus.py clip.mp4 --wait-readers 1   # lossless pipelines
"""
import argparse
import sys
import time

import cv2

import framebus


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", default="0",
                    help="camera index or a file/URL OpenCV opens (default: camera 0)")
    ap.add_argument("--bus", default="cam")
    ap.add_argument("--loop", action="store_true", help="replay a file forever")
    ap.add_argument("--frames", type=int, default=0, help="stop after N frames")
    ap.add_argument("--wait-readers", type=int, default=0, metavar="N",
                    help="hold the first frame until N readers are attached")
    ap.add_argument("--realtime", action="store_true",
                    help="pace a file at its frame rate (a camera paces itself)")
    a = ap.parse_args()

    src = int(a.source) if a.source.isdigit() else a.source
    cap = cv2.VideoCapture(src)
    ok, img = cap.read()
    if not ok:
        print("capture_to_bus: cannot read from %r" % a.source, file=sys.stderr)
        return 1
    fps = cap.get(cv2.CAP_PROP_FPS) or 30
    h, w = img.shape[:2]
    n = 0
    start = time.monotonic()
    with framebus.Writer(a.bus, w, h, pix_fmt="bgr24", fps=fps) as bus:
        print("capture_to_bus: %s -> bus %r, %dx%d bgr24 at %.2f fps"
              % (a.source, a.bus, w, h, fps), file=sys.stderr)
        if a.wait_readers:
            bus.wait_readers(a.wait_readers)
        while ok:
            bus.write(img)  # one copy into shared memory
            n += 1
            if a.frames and n >= a.frames:
                break
            if a.realtime:
                time.sleep(max(0.0, start + n / fps - time.monotonic()))
            ok, img = cap.read()
            if not ok and a.loop and not isinstance(src, int):
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, img = cap.read()
    print("capture_to_bus: %d frames in %.1f s" % (n, time.monotonic() - start),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
