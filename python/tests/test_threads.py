# SPDX-License-Identifier: MIT
"""Waits release the GIL (another thread makes progress during a blocking
read or write), Ctrl-C interrupts them with KeyboardInterrupt, and close()
from another thread ends a waiting read."""
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import framebus
from conftest import spawn


def count_while(fn):
    """How far a pure-Python counting thread gets while fn() runs here."""
    stop = False
    n = 0

    def counter():
        nonlocal n
        while not stop:
            n += 1

    t = threading.Thread(target=counter)
    t.start()
    try:
        fn()
    finally:
        stop = True
        t.join()
    return n


def test_blocking_read_releases_gil(bus):
    with framebus.Writer(bus, 16, 16, pix_fmt="gray"), framebus.Reader(bus) as r:
        def wait():
            with pytest.raises(framebus.Timeout):
                r.read(timeout=0.5)
        # Holding the GIL, the counter would barely run (switch interval 5 ms
        # is never reached by a thread that never gives it up).
        assert count_while(wait) > 100000


def test_reader_waiting_for_a_bus_releases_gil(bus):
    with framebus.Reader(bus, lossless=True) as r:
        def wait():
            with pytest.raises(framebus.Timeout):
                r.read(timeout=0.5)
        assert count_while(wait) > 100000


def test_blocked_writer_releases_gil(bus):
    with framebus.Writer(bus, 16, 16, pix_fmt="gray", slots=2) as w, \
            framebus.Reader(bus, lossless=True):
        img = np.zeros((16, 16), np.uint8)
        w.write(img)
        w.write(img)

        def wait():
            with pytest.raises(framebus.Timeout):
                w.write(img, timeout=0.5)
        assert count_while(wait) > 100000


def test_read_in_thread_gets_frame(bus):
    got = []
    with framebus.Writer(bus, 16, 16, pix_fmt="gray") as w, \
            framebus.Reader(bus, lossless=True) as r:
        t = threading.Thread(target=lambda: got.append(int(r.read(timeout=5).array[0, 0])))
        t.start()
        time.sleep(0.2)
        w.write(np.full((16, 16), 42, np.uint8))
        t.join(5)
    assert got == [42]


def test_close_from_another_thread_ends_read(bus):
    r = framebus.Reader(bus, lossless=True)
    result = []
    t = threading.Thread(target=lambda: result.append(r.read()))
    t.start()
    time.sleep(0.2)
    with pytest.raises(RuntimeError, match="another thread"):
        r.read(timeout=0)
    r.close()
    t.join(5)
    assert not t.is_alive() and result == [None] and r.closed


@pytest.mark.parametrize("what", ["read", "write"])
def test_ctrl_c_interrupts_wait(bus, what):
    code = {
        "read": "r = framebus.Reader(%r, lossless=True)\nprint('ready', flush=True)\nr.read()",
        "write": ("w = framebus.Writer(%r, 16, 16, pix_fmt='gray', slots=2)\n"
                  "r = framebus.Reader(w.name, lossless=True)\n"
                  "w.write(bytes(256)); w.write(bytes(256))\n"
                  "print('ready', flush=True)\nw.write(bytes(256))"),
    }[what] % bus
    proc = spawn(code="import framebus\n" + code, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert time.monotonic() - t < 2
    # Python exits from an uncaught KeyboardInterrupt by SIGINT itself.
    assert proc.returncode in (1, -signal.SIGINT) and "KeyboardInterrupt" in err, err
