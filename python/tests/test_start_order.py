# SPDX-License-Identifier: MIT
"""Issue 12's start-order guarantee seen from Python: lossless readers
opened (wait=True) before their writer exists get frame 1 and every later
frame, then the end, for short and long streams on both transports."""
import threading

import pytest

import framebus
from conftest import spawn
from helpers import check_frame

ROUNDS = 5

def read_all(r, out, seed):
    try:
        for f in r:
            assert check_frame(f, seed)
            out.append(f.seq)
    except framebus.Timeout:
        out.append("timeout")


@pytest.mark.parametrize("transport", ["posix", "sysv"])
@pytest.mark.parametrize("frames", [1, 20])
@pytest.mark.parametrize("readers", [1, 2])
def test_lossless_reader_first_gets_every_frame(bus, transport, frames, readers):
    for rnd in range(ROUNDS):
        name = "%s-%d" % (bus, rnd)
        rs = [framebus.Reader(name, lossless=True, transport=transport, timeout=30)
              for _ in range(readers)]
        got = [[] for _ in rs]
        threads = [threading.Thread(target=read_all, args=(r, g, 5)) for r, g in zip(rs, got)]
        for t in threads:
            t.start()
        # No wait_readers: the writer starts at full speed.
        proc = spawn("write", name, "gray", 64, 32, frames, "--seed", 5,
                     "--transport", transport)
        assert proc.wait(timeout=30) == 0
        for t in threads:
            t.join(30)
        for r in rs:
            r.close()
        for g in got:
            assert g == list(range(1, frames + 1)), "round %d" % rnd
