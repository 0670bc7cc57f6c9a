# SPDX-License-Identifier: MIT
"""A writer process and a reader in this one: random frames arrive
bit-exact, every one in order, for packed, gray, planar, semi-planar and
16-bit formats, and for every kind of input write() takes."""
import numpy as np
import pytest

import framebus
from conftest import spawn
from helpers import check_frame

FRAMES = 12
SIZES = {"bgr24": (64, 48), "rgba": (30, 20), "gray": (50, 30), "yuv420p": (64, 48),
         "nv12": (96, 40), "gray16le": (40, 24), "p010le": (64, 32),
         "yuv420p10le": (48, 32), "yuyv422": (32, 16)}


def run_roundtrip(bus, pix_fmt, mode, transport="posix", seed=7, low_latency=False):
    w, h = SIZES[pix_fmt]
    proc = spawn("write", bus, pix_fmt, w, h, FRAMES, "--seed", seed, "--mode", mode,
                 "--transport", transport, "--wait-readers", 1)
    seqs = []
    try:
        with framebus.Reader(bus, lossless=True, transport=transport, timeout=20,
                             low_latency=low_latency) as r:
            for f in r:
                assert (f.width, f.height, f.pix_fmt) == (w, h, pix_fmt)
                assert check_frame(f, seed), "frame %d differs" % f.seq
                seqs.append(f.seq)
    finally:
        assert proc.wait(timeout=30) == 0
    assert seqs == list(range(1, FRAMES + 1))


@pytest.mark.parametrize("pix_fmt", sorted(SIZES))
def test_formats_bit_exact(bus, pix_fmt):
    run_roundtrip(bus, pix_fmt, "array")


@pytest.mark.parametrize("pix_fmt", ["bgr24", "yuv420p", "gray16le"])
def test_zero_copy_frame(bus, pix_fmt):
    run_roundtrip(bus, pix_fmt, "frame")


@pytest.mark.parametrize("mode", ["planes", "bytes", "strided", "rows"])
@pytest.mark.parametrize("pix_fmt", ["bgr24", "nv12", "gray"])
def test_input_kinds(bus, pix_fmt, mode):
    run_roundtrip(bus, pix_fmt, mode)


@pytest.mark.parametrize("transport", ["posix", "sysv"])
def test_low_latency(bus, transport):
    """The low_latency keyword: every frame, in order, bit-exact."""
    run_roundtrip(bus, "yuv420p", "array", transport=transport, low_latency=True)


@pytest.mark.parametrize("pix_fmt", ["bgr24", "yuv420p"])
def test_sysv(bus, pix_fmt):
    run_roundtrip(bus, pix_fmt, "array", transport="sysv")


def test_array_shapes_and_dtypes(bus):
    """What .array and .planes look like for each kind of format."""
    expect = {"bgr24": ((48, 64, 3), np.uint8), "gray": ((30, 50), np.uint8),
              "gray16le": ((24, 40), np.uint16), "rgba": ((20, 30, 4), np.uint8),
              "yuyv422": ((16, 32, 2), np.uint8)}
    for pix_fmt, (shape, dtype) in expect.items():
        w, h = SIZES[pix_fmt]
        name = "%s-%s" % (bus, pix_fmt)
        with framebus.Writer(name, w, h, pix_fmt=pix_fmt) as wr, \
                framebus.Reader(name, lossless=True) as r:
            assert wr.shape == shape and wr.dtype == dtype
            wr.write(np.zeros(shape, dtype))
            f = r.read(timeout=5)
            assert f.array.shape == shape and f.array.dtype == dtype
            assert len(f.planes) == 1 and f.planes[0].ndim == 2
    with framebus.Writer(bus, 64, 48, pix_fmt="yuv420p") as wr, \
            framebus.Reader(bus, lossless=True) as r:
        assert wr.shape is None
        assert wr.plane_shapes == [(48, 64), (24, 32), (24, 32)]
        wr.write(np.zeros((72, 64), np.uint8))  # OpenCV's I420 layout
        f = r.read(timeout=5)
        assert [p.shape for p in f.planes] == [(48, 64), (24, 32), (24, 32)]
        with pytest.raises(ValueError, match="use .planes"):
            f.array
        assert f.tobytes() == bytes(64 * 48 * 3 // 2)


def test_metadata(bus):
    with framebus.Writer(bus, 32, 16, pix_fmt="gray", fps=29.97) as w, \
            framebus.Reader(bus, lossless=True) as r:
        assert w.fps == framebus_fraction(30000, 1001)
        w.write(np.zeros((16, 32), np.uint8))
        w.write(np.zeros((16, 32), np.uint8), pts=12345)
        f = r.read(timeout=5)
        assert f.seq == 1 and f.pts == 0 and f.rate == framebus_fraction(30000, 1001)
        assert f.time_base == framebus_fraction(1001, 30000) and f.time == 0.0
        assert f.new_session and f.session == w.session and f.publish_ns > 0
        f = r.read(timeout=5)
        assert f.seq == 2 and f.pts == 12345 and not f.new_session
        buses = {b["name"]: b for b in framebus.list()}
        assert buses[bus]["state"] == "live" and buses[bus]["pix_fmt"] == "gray"
        assert buses[bus]["width"] == 32 and buses[bus]["nb_readers"] == 1
        st = framebus.stat(bus)
        assert st["readers"][0]["policy"] == "lossless"


def framebus_fraction(n, d):
    from fractions import Fraction
    return Fraction(n, d)
