# SPDX-License-Identifier: MIT
"""Never a crash: frame arrays are read-only; arrays kept past their frame
(the next read, release(), close(), a writer restart or resize, the bus
removed) keep their pixels unchanged; no slot is leaked."""
import gc

import cv2
import numpy as np
import pytest

import framebus
from conftest import spawn
from helpers import check_frame, frame_planes


def expected(shape, seed, seq):
    return frame_planes([shape], np.uint8, seed, seq)[0]


def test_arrays_are_read_only(bus):
    with framebus.Writer(bus, 64, 48, slots=3) as w, \
            framebus.Reader(bus, lossless=True) as r, \
            framebus.Reader(bus, lossless=True) as other:
        w.write(np.full((48, 64, 3), 9, np.uint8))
        f = r.read(timeout=5)
        a = f.array
        assert not a.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            a[0, 0, 0] = 1
        with pytest.raises(ValueError):
            a.setflags(write=True)
        with pytest.raises(ValueError):
            a[10:20].setflags(write=True)
        with pytest.raises(ValueError):
            f.planes[0][...] = 0
        with pytest.raises(ValueError):
            np.copyto(a, 0)
        out = cv2.GaussianBlur(a, (3, 3), 0)  # as an input it is fine
        assert out.shape == a.shape and out.flags.writeable
        # As an output, OpenCV >= 4.9 refuses it; older ones (Debian 12 has
        # 4.6) ignore the flag and write: into this process's own copy of
        # the page, never onto the bus, and never a segfault.
        try:
            cv2.rectangle(a, (0, 0), (20, 20), (255, 255, 255), -1)
            cv2.blur(a, (3, 3), dst=a)
        except cv2.error:
            pass
        assert int(other.read(timeout=5).array.max()) == 9
        # Pages written are dropped at release: the next frames in the same
        # slots show the bus again.
        del a
        f.release()
        assert not f.copied
        for i in range(10, 17):
            w.write(np.full((48, 64, 3), i, np.uint8))
            arr = r.read(timeout=5).array
            assert int(arr.min()) == int(arr.max()) == i
            try:
                cv2.rectangle(arr, (0, 0), (20, 20), (255, 255, 255), -1)
            except cv2.error:
                pass
            del arr
            assert int(other.read(timeout=5).array.max()) == i


def test_kept_arrays_across_racing_writer(bus):
    """A writer at full speed while the reader keeps the arrays of every frame
    it reads: each kept array still holds its own frame at the end."""
    seed, shape = 3, (120, 160, 3)
    proc = spawn("write", bus, "bgr24", 160, 120, 400, "--seed", seed, "--wait-readers", 1,
                 "--slots", 3)
    kept = []
    with framebus.Reader(bus, timeout=20) as r:
        for f in r:
            kept.append((f.seq, f.array, f.planes[0][::7]))
            assert not f.overrun
        assert r.copies == len(kept)
    assert proc.wait(timeout=60) == 0
    assert len(kept) >= 2
    seqs = [s for s, _, _ in kept]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for seq, a, rows in kept:
        want = expected((120, 480), seed, seq)
        assert np.array_equal(a.reshape(120, 480), want), "frame %d changed" % seq
        assert np.array_equal(rows, want[::7])


def test_loop_without_kept_arrays_copies_nothing(bus):
    with framebus.Writer(bus, 32, 16, pix_fmt="gray", slots=2) as w, \
            framebus.Reader(bus, lossless=True) as r:
        for i in range(20):
            w.write(np.full((16, 32), i, np.uint8), timeout=2)
            f = r.read(timeout=2)
            assert int(f.array.mean()) == i  # the array dies right away
        assert r.copies == 0


def test_lossless_reader_keeping_arrays_leaks_no_slot(bus):
    """Kept arrays never keep a slot: with 2 slots a writer would block at
    once if a released frame stayed pinned."""
    kept = []
    with framebus.Writer(bus, 32, 16, pix_fmt="gray", slots=2, timeout=2) as w, \
            framebus.Reader(bus, lossless=True) as r:
        for i in range(30):
            w.write(np.full((16, 32), i, np.uint8))
            kept.append(r.read(timeout=2).array)
        assert r.copies == 29  # the last one is still held
    assert [int(a[0, 0]) for a in kept] == list(range(30))


def test_release_and_close_with_arrays_alive(bus):
    with framebus.Writer(bus, 64, 48) as w:
        r = framebus.Reader(bus, lossless=True)
        w.write(np.full((48, 64, 3), 1, np.uint8))
        f = r.read(timeout=5)
        a = f.array
        f.release()
        assert f.released and f.copied
        assert int(f.array.max()) == 1 and not f.array.flags.writeable
        w.write(np.full((48, 64, 3), 2, np.uint8))
        g = r.read(timeout=5)
        b, p = g.array, g.planes
        r.close()  # g is held: it is copied, then the reader goes
        assert g.copied
        w.write(np.full((48, 64, 3), 3, np.uint8))
        w.write(np.full((48, 64, 3), 4, np.uint8))
        r2 = framebus.Reader(bus)
        h = r2.read(timeout=5)
        c = h.array
        del r2  # the Frame keeps its reader; nothing is freed under it
        gc.collect()
        assert int(c.max()) == 4
    # The writer is gone and the bus removed: every array still reads.
    assert int(a.max()) == 1 and int(b.max()) == 2 and int(p[0].max()) == 2
    assert int(c.max()) == 4
    del h
    assert int(c.sum()) == 4 * c.size


def test_bus_removed_under_reader(bus):
    with framebus.Writer(bus, 64, 48) as w, framebus.Reader(bus, lossless=True) as r:
        w.write(np.full((48, 64, 3), 5, np.uint8))
        a = r.read(timeout=5).array
        framebus.unlink(bus)
        assert int(a.max()) == 5
        w.write(np.full((48, 64, 3), 6, np.uint8))
        assert int(r.read(timeout=5).array.max()) == 6
        assert int(a.max()) == 5


def test_writer_resize_and_restart(bus):
    with framebus.Reader(bus, lossless=True, timeout=10) as r:
        w = framebus.Writer(bus, 64, 48)
        w.write(np.full((48, 64, 3), 1, np.uint8))
        small = r.read().array
        w.resize(640, 480)  # bigger than the slots: a new region
        w.write(np.full((480, 640, 3), 2, np.uint8))
        f = r.read()
        assert (f.width, f.height) == (640, 480) and int(f.array.min()) == 2
        big = f.array
        w.close()
        assert r.read() is None  # end of that stream
        assert int(small.max()) == 1 and int(big.min()) == 2
        # A writer of another size restarts the name; the reader follows.
        seed = 11
        proc = spawn("write", bus, "gray", 32, 16, 3, "--seed", seed, "--wait-readers", 1)
        got = [(f.seq, f.new_session, f.array.shape, check_frame(f, seed)) for f in r]
        assert proc.wait(timeout=30) == 0
        assert got == [(1, True, (16, 32), True), (2, False, (16, 32), True),
                       (3, False, (16, 32), True)]
        assert int(small.max()) == 1 and big.shape == (480, 640, 3)


def test_writer_frame_arrays_after_publish(bus):
    with framebus.Writer(bus, 32, 16, pix_fmt="gray") as w, \
            framebus.Reader(bus, lossless=True) as r:
        with w.frame() as f:
            a = f.array
            a[...] = 5
        assert f.copied and a.flags.writeable
        a[...] = 9  # private now: never reaches the bus
        got = r.read(timeout=5)
        assert int(got.array.max()) == 5
        w.write(np.full((16, 32), 7, np.uint8))
        assert int(r.read(timeout=5).array.max()) == 7
    a[...] = 3  # after the writer closed too
    assert int(a.sum()) == 3 * a.size


def test_dropped_frame_object_releases(bus):
    with framebus.Writer(bus, 32, 16, pix_fmt="gray", slots=2, timeout=2) as w, \
            framebus.Reader(bus, lossless=True) as r:
        w.write(np.zeros((16, 32), np.uint8))
        a = r.read(timeout=2).array  # only the array holds the frame
        w.write(np.zeros((16, 32), np.uint8))
        del a  # frame released here, without a copy
        assert r.read(timeout=2).seq == 2
        assert r.copies == 0
