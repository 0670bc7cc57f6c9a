# SPDX-License-Identifier: MIT
"""Shared by the tests and the processes they start: deterministic frames
(the same seed gives the same pixels in any process) and a writer that runs
as its own process: python3 helpers.py write NAME ..."""
import argparse
import os
import sys
import time

import numpy as np

import framebus


def frame_planes(shapes, dtype, seed, seq):
    """The planes of frame `seq`: random samples, the same in every process."""
    rng = np.random.default_rng([seed, seq])
    top = 256 if dtype == np.uint8 else 65536
    return [rng.integers(0, top, size=s, dtype=dtype) for s in shapes]


def frame_input(w, planes, mode):
    """What Writer.write() is given for `planes` in a given input mode."""
    if mode == "planes":
        return [p for p in planes]
    if mode == "bytes":
        return b"".join(p.tobytes() for p in planes)
    if mode == "strided":
        # Every other row and column of a bigger array: numpy copies it.
        if w.shape is not None:
            return _spaced(planes[0].reshape(w.shape), 2)
        return [_spaced(p, 2) for p in planes]
    if mode == "rows":
        # Contiguous rows further apart than their length (a crop).
        if w.shape is not None:
            return _spaced(planes[0].reshape(w.shape), 1)
        return [_spaced(p, 1) for p in planes]
    # "array": one array, (H, W, C) / (H, W), or the planes packed one after
    # the other for planar formats, as OpenCV's I420 and NV12 are.
    if w.shape is not None:
        return planes[0].reshape(w.shape)
    return np.concatenate([p.ravel() for p in planes]).reshape(-1, w.width)


def _spaced(a, col_step):
    """a as a view of a bigger array: every other row, every col_step-th
    column."""
    big = np.zeros((a.shape[0] * 2, a.shape[1] * col_step + 3) + a.shape[2:], dtype=a.dtype)
    view = big[::2, :a.shape[1] * col_step:col_step]
    view[...] = a
    return view


def write_frames(name, pix_fmt, width, height, frames, seed, mode="array",
                 transport="posix", wait_readers=0, fps=0, slots=3, timeout=10):
    with framebus.Writer(name, width, height, pix_fmt=pix_fmt, fps=fps or None,
                         slots=slots, transport=transport, timeout=timeout) as w:
        if wait_readers:
            w.wait_readers(wait_readers, timeout=timeout)
        for seq in range(1, frames + 1):
            planes = frame_planes(w.plane_shapes, w.dtype.type, seed, seq)
            if mode == "frame":
                with w.frame() as f:
                    for dst, src in zip(f.planes, planes):
                        dst[...] = src
            else:
                w.write(frame_input(w, planes, mode))
            if fps:
                time.sleep(1.0 / fps)


def check_frame(f, seed):
    """Whether frame f holds exactly the pixels frame_planes gives for it."""
    planes = f.planes
    want = frame_planes([p.shape for p in planes], planes[0].dtype.type, seed, f.seq)
    return all(np.array_equal(a, b) for a, b in zip(planes, want))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    wp = sub.add_parser("write")
    wp.add_argument("name")
    wp.add_argument("pix_fmt")
    wp.add_argument("width", type=int)
    wp.add_argument("height", type=int)
    wp.add_argument("frames", type=int)
    wp.add_argument("--seed", type=int, default=1)
    wp.add_argument("--mode", default="array")
    wp.add_argument("--transport", default="posix")
    wp.add_argument("--wait-readers", type=int, default=0)
    wp.add_argument("--fps", type=float, default=0)
    wp.add_argument("--slots", type=int, default=3)
    wp.add_argument("--delay", type=float, default=0)
    wp.add_argument("--hold", type=float, default=0,
                    help="seconds to keep the bus open after the last frame")
    a = ap.parse_args()
    if a.delay:
        time.sleep(a.delay)
    if a.hold:
        # Keep the writer open: wrap write_frames' with block by hand.
        write_frames_hold(a)
        return 0
    write_frames(a.name, a.pix_fmt, a.width, a.height, a.frames, a.seed, a.mode,
                 a.transport, a.wait_readers, a.fps, a.slots)
    return 0


def write_frames_hold(a):
    w = framebus.Writer(a.name, a.width, a.height, pix_fmt=a.pix_fmt,
                        transport=a.transport, slots=a.slots)
    if a.wait_readers:
        w.wait_readers(a.wait_readers, timeout=10)
    for seq in range(1, a.frames + 1):
        w.write(frame_input(w, frame_planes(w.plane_shapes, w.dtype.type, a.seed, seq),
                            a.mode))
    time.sleep(a.hold)
    w.close()


if __name__ == "__main__":
    sys.exit(main())
