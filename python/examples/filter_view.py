#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Read a bus, run an OpenCV filter on each frame and show it with its fps.

    python3 filter_view.py --bus cam                 # edges in a window
    python3 filter_view.py --bus cam --filter blur --no-window --frames 300
"""
import argparse
import sys
import time

import cv2
import numpy as np

import framebus

FILTERS = {
    "edges": lambda img: cv2.Canny(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), 80, 160),
    "blur": lambda img: cv2.GaussianBlur(img, (9, 9), 0),
    "none": lambda img: img.copy(),
}


def to_bgr(f):
    """The frame as a BGR image OpenCV can take: a zero-copy view when the
    bus carries bgr24 or gray, a conversion otherwise."""
    if f.pix_fmt in ("bgr24", "gray"):
        return f.array
    if f.pix_fmt in ("yuv420p", "nv12"):
        code = cv2.COLOR_YUV2BGR_I420 if f.pix_fmt == "yuv420p" else cv2.COLOR_YUV2BGR_NV12
        packed = np.frombuffer(f.tobytes(), np.uint8).reshape(-1, f.width)
        return cv2.cvtColor(packed, code)
    if f.pix_fmt == "rgb24":
        return cv2.cvtColor(f.array, cv2.COLOR_RGB2BGR)
    if f.pix_fmt in ("bgra", "bgr0"):
        return cv2.cvtColor(f.array, cv2.COLOR_BGRA2BGR)
    raise SystemExit("filter_view: no conversion for %s" % f.pix_fmt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bus", default="cam")
    ap.add_argument("--filter", choices=sorted(FILTERS), default="edges")
    ap.add_argument("--lossless", action="store_true", help="every frame, in order")
    ap.add_argument("--frames", type=int, default=0, help="stop after N frames")
    ap.add_argument("--no-window", action="store_true", help="print fps only")
    a = ap.parse_args()

    n, t0, shown, fps = 0, time.monotonic(), 0, 0.0
    with framebus.Reader(a.bus, lossless=a.lossless) as r:
        for f in r:
            out = FILTERS[a.filter](to_bgr(f))  # reads shared memory directly
            n += 1
            now = time.monotonic()
            if now - t0 >= 1.0:
                fps = (n - shown) / (now - t0)
                t0, shown = now, n
                print("filter_view: %s %dx%d %s  %.1f fps  dropped %d"
                      % (a.bus, f.width, f.height, f.pix_fmt, fps, f.dropped),
                      file=sys.stderr)
            if not a.no_window:
                cv2.putText(out, "%.1f fps" % fps, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1,
                            255, 2)
                cv2.imshow("framebus " + a.bus, out)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
            del out
            if a.frames and n >= a.frames:
                break
    print("filter_view: %d frames" % n, file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
