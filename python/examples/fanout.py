#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One writer process, three reader processes (multiprocessing), one bus:
every reader sees every frame without a copy, and checks it.

    python3 fanout.py --frames 300 --size 1280x720
"""
import argparse
import multiprocessing as mp
import sys
import time

import numpy as np

import framebus


def pattern(seq, h, w):
    """Frame `seq`: a gradient shifted by seq, cheap to make and to check."""
    row = (np.arange(w, dtype=np.uint32) + seq) % 256
    return np.broadcast_to(row.astype(np.uint8)[None, :, None], (h, w, 3))


def reader(name, idx, ready, results):
    # Readers are created in the process that uses them (not before a fork).
    with framebus.Reader(name, lossless=True, timeout=30) as r:
        ready.release()
        n = bad = 0
        for f in r:
            a = f.array
            h, w = a.shape[:2]
            if not np.array_equal(a[0, :, 0], pattern(f.seq, 1, w)[0, :, 0]):
                bad += 1
            n += 1
        results.put((idx, n, bad))


def writer(name, frames, w, h, nreaders, ready):
    for _ in range(nreaders):
        ready.acquire()
    with framebus.Writer(name, w, h, pix_fmt="bgr24", fps=0) as bus:
        bus.wait_readers(nreaders, timeout=30)
        for seq in range(1, frames + 1):
            with bus.frame() as f:  # fill the slot in place: zero copy
                f.array[...] = pattern(seq, h, w)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bus", default="fanout-%d" % mp.current_process().pid)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--readers", type=int, default=3)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))

    ctx = mp.get_context("spawn")
    ready, results = ctx.Semaphore(0), ctx.Queue()
    procs = [ctx.Process(target=reader, args=(a.bus, i, ready, results))
             for i in range(a.readers)]
    for p in procs:
        p.start()
    t = time.monotonic()
    wp = ctx.Process(target=writer, args=(a.bus, a.frames, w, h, a.readers, ready))
    wp.start()
    wp.join()
    got = sorted(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join()
    secs = time.monotonic() - t
    ok = True
    for idx, n, bad in got:
        print("reader %d: %d frames, %d wrong" % (idx, n, bad))
        ok = ok and n == a.frames and bad == 0
    print("%d frames of %dx%d to %d readers in %.2f s (%.0f frames/s)"
          % (a.frames, w, h, a.readers, secs, a.frames / secs))
    return 0 if ok and wp.exitcode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
