# SPDX-License-Identifier: MIT
"""Every failure raises the documented exception: framebus.Error with the
library's code for what the library refuses, framebus.Timeout for waits,
ValueError/TypeError (naming what was expected) for bad Python arguments."""
import errno
import os
import signal
import time

import numpy as np
import pytest

import framebus
from conftest import spawn


def test_error_type():
    assert issubclass(framebus.Error, Exception)
    assert issubclass(framebus.Timeout, framebus.Error)
    assert issubclass(framebus.Timeout, TimeoutError)
    e = framebus.Error(framebus.EENDED, "bus \"x\": ended")
    assert e.code == framebus.EENDED and "ended" in e.text and str(e) == "bus \"x\": ended"
    assert framebus.strerror(-errno.ENOENT)


def test_no_such_bus(bus):
    with pytest.raises(framebus.Error) as ei:
        framebus.Reader(bus, wait=False)
    assert ei.value.code == -errno.ENOENT
    assert bus in str(ei.value) and "no such bus" in str(ei.value)
    with pytest.raises(framebus.Error) as ei:
        framebus.stat(bus)
    assert ei.value.code == -errno.ENOENT
    with pytest.raises(framebus.Error) as ei:
        framebus.unlink(bus)
    assert ei.value.code == -errno.ENOENT


@pytest.mark.parametrize("name", ["", "a/b", "x" * 65, "..", "sp ace"])
def test_bad_name(name):
    with pytest.raises(framebus.Error) as ei:
        framebus.Writer(name, 16, 16)
    assert ei.value.code == framebus.EBADNAME
    with pytest.raises(framebus.Error) as ei:
        framebus.Reader(name)
    assert ei.value.code == framebus.EBADNAME


def test_busy_name(bus):
    with framebus.Writer(bus, 16, 16):
        with pytest.raises(framebus.Error) as ei:
            framebus.Writer(bus, 16, 16)
        assert ei.value.code == framebus.EBUSY and bus in str(ei.value)


def test_bad_formats(bus):
    with pytest.raises(framebus.Error) as ei:
        framebus.Writer(bus, 16, 16, pix_fmt="nosuchfmt")
    assert ei.value.code == framebus.EFORMAT
    with pytest.raises(ValueError, match="positive"):
        framebus.Writer(bus, 0, 16, pix_fmt="gray")
    with pytest.raises(framebus.Error) as ei:
        framebus.Writer(bus, 40000, 16, pix_fmt="gray")
    assert ei.value.code == framebus.ETOOBIG


@pytest.mark.parametrize("kw", [dict(transport="shm"), dict(slots=1), dict(slots=65),
                                dict(fps=-1), dict(mode=0o7777), dict(timeout=-1)])
def test_bad_writer_arguments(bus, kw):
    with pytest.raises(ValueError):
        framebus.Writer(bus, 16, 16, **kw)


def test_bad_reader_arguments(bus):
    with pytest.raises(ValueError):
        framebus.Reader(bus, transport="tcp")
    with pytest.raises(ValueError):
        framebus.Reader(bus, timeout=-2)
    with pytest.raises(TypeError):
        framebus.Reader(bus, lossless="yes", wait=1, nope=2)


def test_write_validation(bus):
    with framebus.Writer(bus, 64, 48, pix_fmt="bgr24") as w:
        for bad in (np.zeros((48, 64), np.uint8), np.zeros((48, 64, 4), np.uint8),
                    np.zeros((64, 48, 3), np.uint8), np.zeros((48, 64, 3), np.uint16),
                    np.zeros((48, 64, 3), np.float32), np.zeros((48, 3, 64), np.uint8)):
            with pytest.raises(ValueError, match=r"expects a uint8 array of shape \(48, 64, 3\)"):
                w.write(bad)
        with pytest.raises(ValueError, match="9216 packed bytes|shape"):
            w.write(b"\0" * 100)
        with pytest.raises(TypeError):
            w.write(12)
        assert w.frames == 0
    with framebus.Writer(bus + "p", 64, 48, pix_fmt="yuv420p") as w:
        with pytest.raises(ValueError, match=r"\[\(48, 64\), \(24, 32\), \(24, 32\)\]"):
            w.write([np.zeros((48, 64), np.uint8)])
        with pytest.raises(ValueError, match="4608 packed bytes"):
            w.write(np.zeros((48, 64), np.uint8))
        with pytest.raises(ValueError):
            w.write([np.zeros((48, 64), np.uint8), np.zeros((24, 32), np.uint8),
                     np.zeros((24, 31), np.uint8)])
    with framebus.Writer(bus + "16", 8, 8, pix_fmt="gray16le") as w:
        with pytest.raises(ValueError, match="uint16"):
            w.write(np.zeros((8, 8), np.uint8))
        with pytest.raises(ValueError):
            w.write(np.zeros((8, 8), ">u2"))  # big-endian samples
        w.write(np.zeros((8, 8), np.uint16))


def test_closed_objects(bus):
    w = framebus.Writer(bus, 16, 16, pix_fmt="gray")
    r = framebus.Reader(bus)
    w.close()
    w.close()
    r.close()
    r.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(np.zeros((16, 16), np.uint8))
    with pytest.raises(ValueError, match="closed"):
        w.frame()
    with pytest.raises(ValueError, match="closed"):
        r.read()
    with pytest.raises(ValueError, match="closed"):
        with r:
            pass


def test_read_timeouts(bus):
    with framebus.Writer(bus, 16, 16, pix_fmt="gray") as w, framebus.Reader(bus) as r:
        t = time.monotonic()
        with pytest.raises(framebus.Timeout) as ei:
            r.read(timeout=0.2)
        assert 0.15 < time.monotonic() - t < 2
        assert ei.value.code == -errno.ETIMEDOUT and bus in str(ei.value)
        with pytest.raises(framebus.Timeout) as ei:
            r.read(timeout=0)
        assert ei.value.code == -errno.EAGAIN
        w.write(np.zeros((16, 16), np.uint8))
        assert r.read(timeout=0).seq == 1
    with framebus.Reader(bus + "x", timeout=0.1) as r:  # waiting for a bus
        with pytest.raises(TimeoutError):
            for f in r:
                pass


def test_writer_timeout_with_stalled_lossless_reader(bus):
    with framebus.Writer(bus, 16, 16, pix_fmt="gray", slots=2) as w, \
            framebus.Reader(bus, lossless=True) as r:
        img = np.zeros((16, 16), np.uint8)
        w.write(img)
        w.write(img)  # the reader has read none: every slot is needed
        with pytest.raises(framebus.Timeout) as ei:
            w.write(img, timeout=0.2)
        assert "lossless reader" in str(ei.value)
        with pytest.raises(framebus.Timeout):
            w.frame(timeout=0)
        assert r.read(timeout=1).seq == 1
        r.read(timeout=1)
        assert w.write(img, timeout=1) == 3
        with pytest.raises(framebus.Timeout, match="fewer than 2 readers"):
            w.wait_readers(2, timeout=0.1)


def test_producer_gone(bus):
    proc = spawn("write", bus, "gray", 16, 16, 1, "--hold", 30)
    with framebus.Reader(bus, lossless=True, timeout=10) as r:
        assert r.read().seq == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with pytest.raises(framebus.Error) as ei:
            r.read(timeout=10)
        assert ei.value.code == framebus.EPRODUCERGONE


def test_frame_misuse(bus):
    with framebus.Writer(bus, 16, 16, pix_fmt="gray") as w, \
            framebus.Reader(bus, lossless=True) as r:
        f = w.frame()
        with pytest.raises(RuntimeError, match="still open"):
            w.write(np.zeros((16, 16), np.uint8))
        with pytest.raises(RuntimeError):
            w.frame()
        f.publish()
        with pytest.raises(ValueError, match="already"):
            f.publish()
        rf = r.read(timeout=1)
        with pytest.raises(TypeError):
            rf.publish()
        rf.release()
        with pytest.raises(ValueError, match="released"):
            rf.array
        # A block that raises cancels the frame: nothing is published.
        with pytest.raises(KeyError):
            with w.frame() as f:
                f.array[...] = 1
                raise KeyError("x")
        assert w.frames == 1
        with pytest.raises(framebus.Timeout):
            r.read(timeout=0.1)
