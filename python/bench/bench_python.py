#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Python writer -> Python reader (two processes), 1080p bgr24, every frame
delivered, three ways in one run: framebus, multiprocessing.shared_memory
with semaphores guarding 3 buffers, and a multiprocessing.Queue. Then the
binding's own cost per frame, against the C library (bench_bus) and memcpy.

    PYTHONPATH=build/python /usr/bin/python3 python/bench/bench_python.py \\
        --bench-bus build/bench/bench_bus
"""
import argparse
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time

import numpy as np

import framebus

W, H = 1920, 1080
SLOTS = 3


def touch(a):
    # What every reader does with a frame: look at it (one row), no copy.
    return int(a[H // 2, :, 1].sum())


# ------------------------------------------------------------ framebus

def fb_writer(name, n, go):
    img = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    with framebus.Writer(name, W, H, pix_fmt="bgr24", fps=0, slots=SLOTS) as w:
        go.set()
        w.wait_readers(1, timeout=30)
        for _ in range(n):
            w.write(img)


def fb_reader(name, n, view, out):
    with framebus.Reader(name, lossless=True, timeout=30) as r:
        t0 = None
        got = 0
        for f in r:
            if view:
                touch(f.array)
            got += 1
            if t0 is None:
                t0 = time.perf_counter()
        out.put((got, time.perf_counter() - t0))


# ------------------------------------------------------------ shared_memory

def shm_writer(names, n, empty, full):
    from multiprocessing import shared_memory
    shms = [shared_memory.SharedMemory(name=x) for x in names]
    bufs = [np.ndarray((H, W, 3), np.uint8, s.buf) for s in shms]
    img = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    for i in range(n):
        empty.acquire()
        np.copyto(bufs[i % SLOTS], img)
        full.release()
    del bufs
    for s in shms:
        s.close()


def shm_reader(names, n, empty, full, out):
    from multiprocessing import shared_memory
    shms = [shared_memory.SharedMemory(name=x) for x in names]
    bufs = [np.ndarray((H, W, 3), np.uint8, s.buf) for s in shms]
    t0 = None
    for i in range(n):
        full.acquire()
        touch(bufs[i % SLOTS])  # in place, while the semaphore holds it
        empty.release()
        if t0 is None:
            t0 = time.perf_counter()
    out.put((n, time.perf_counter() - t0))
    del bufs
    for s in shms:
        s.close()


# ------------------------------------------------------------ Queue

def q_writer(q, n):
    img = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    for _ in range(n):
        q.put(img)


def q_reader(q, n, out):
    t0 = None
    for _ in range(n):
        touch(q.get())
        if t0 is None:
            t0 = time.perf_counter()
    out.put((n, time.perf_counter() - t0))


def run_pair(ctx, writer, wargs, reader, rargs):
    out = ctx.Queue()
    rp = ctx.Process(target=reader, args=rargs + (out,))
    wp = ctx.Process(target=writer, args=wargs)
    rp.start()
    wp.start()
    got, secs = out.get(timeout=300)
    wp.join()
    rp.join()
    return (got - 1) / secs, got


def cross_process(n, rounds):
    """Median frames/s of each way over `rounds` rounds, the ways
    interleaved so that the machine's load hits them alike."""
    from multiprocessing import shared_memory
    ctx = mp.get_context("fork")
    runs = {}
    for rnd in range(rounds):
        name = "bench-py-%d-%d" % (os.getpid(), rnd)
        go = ctx.Event()
        runs.setdefault("framebus", []).append(
            run_pair(ctx, fb_writer, (name, n, go), fb_reader, (name, n, True))[0])
        runs.setdefault("framebus, reader makes no array", []).append(
            run_pair(ctx, fb_writer, (name + "n", n, go), fb_reader, (name + "n", n, False))[0])
        shms = [shared_memory.SharedMemory(create=True, size=H * W * 3) for _ in range(SLOTS)]
        try:
            empty, full = ctx.Semaphore(SLOTS), ctx.Semaphore(0)
            names = [s.name for s in shms]
            runs.setdefault("shared_memory + semaphores", []).append(run_pair(
                ctx, shm_writer, (names, n, empty, full), shm_reader,
                (names, n, empty, full))[0])
        finally:
            for s in shms:
                s.close()
                s.unlink()
        q = ctx.Queue(maxsize=SLOTS)
        qn = max(10, n // 10)  # it is that slow
        runs.setdefault("multiprocessing.Queue", []).append(
            run_pair(ctx, q_writer, (q, qn), q_reader, (q, qn))[0])
    return {k: sorted(v) for k, v in runs.items()}


# ------------------------------------------------------------ overhead

def median_ns(fn, rounds=11, reps=2000):
    vals = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        for _ in range(reps):
            fn()
        vals.append((time.perf_counter_ns() - t) / reps)
    vals.sort()
    return vals[len(vals) // 2]


def overhead():
    name = "bench-py-o-%d" % os.getpid()
    res = {}
    small = np.zeros((16, 16), np.uint8)
    with framebus.Writer(name, 16, 16, pix_fmt="gray", fps=0) as w, \
            framebus.Reader(name) as r:
        def write_read():
            w.write(small)
            r.read(timeout=0).release()

        def frame_read():
            with w.frame():
                pass
            f = r.read(timeout=0)
            f.array  # one view made and dropped
            f.release()
        res["write(16x16 gray) + read(0) + release"] = median_ns(write_read)
        res["frame() + read(0) + .array + release"] = median_ns(frame_read)
    with framebus.Writer(name, W, H, pix_fmt="bgr24", fps=0) as w, \
            framebus.Reader(name) as r:
        big = np.zeros((H, W, 3), np.uint8)
        for view, label in ((False, "1080p: read(0) + release"),
                            (True, "1080p: read(0) + .array + release")):
            times = []
            for _ in range(61):
                w.write(big)  # not timed
                t = time.perf_counter_ns()
                f = r.read(timeout=0)
                if view:
                    f.array
                f.release()
                times.append(time.perf_counter_ns() - t)
            times.sort()
            res[label] = times[30]
    img = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    dst = np.empty_like(img)
    with framebus.Writer(name, W, H, pix_fmt="bgr24", fps=0) as w:
        res["write(1080p bgr24)"] = median_ns(lambda: w.write(img), rounds=11, reps=30)
    res["np.copyto 1080p bgr24"] = median_ns(lambda: np.copyto(dst, img), rounds=11, reps=30)
    return res


def bench_bus(path):
    if not path:
        return None
    out = subprocess.run([path, "20"], check=True, capture_output=True, text=True).stdout
    m = re.search(r"posix.*ratio ([\d.]+)\s+acquire\+release ([\d.]+) us", out)
    return (float(m.group(1)), float(m.group(2))) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bench-bus", help="path of bench_bus, for the C library's figures")
    a = ap.parse_args()

    print("1920x1080 bgr24, %d frames, writer and reader in two processes, every frame "
          "delivered (%d buffers each); median of %d interleaved rounds"
          % (a.frames, SLOTS, a.rounds))
    res = cross_process(a.frames, a.rounds)
    base = res["framebus"][len(res["framebus"]) // 2]
    print("| transport | frames/s (median) | vs framebus | all rounds |\n|---|---|---|---|")
    for k, v in res.items():
        med = v[len(v) // 2]
        print("| %s | %.0f | %.2fx | %s |" % (k, med, med / base,
                                            " ".join("%.0f" % x for x in v)))
    print()
    o = overhead()
    c = bench_bus(a.bench_bus)
    print("| per frame, in one process | time |\n|---|---|")
    for k, v in o.items():
        print("| %s | %.2f us |" % (k, v / 1000))
    print("| C library: acquire + release (bench_bus) | %s |"
          % ("%.2f us" % c[1] if c else "not run"))
    print()
    print("write(1080p bgr24) / np.copyto of the same bytes: %.2fx (C library's publish / "
          "memcpy, 1080p yuv420p, bench_bus: %s)"
          % (o["write(1080p bgr24)"] / o["np.copyto 1080p bgr24"],
             "%.2fx" % c[0] if c else "not run"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
