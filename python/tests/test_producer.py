# SPDX-License-Identifier: MIT
"""framebus-producer (the real program) decodes a clip into a bus; a Python
lossless reader gets frames whose bytes hash exactly like ffmpeg's framemd5
of the same clip."""
import hashlib
import os
import subprocess

import pytest

import framebus
from conftest import BINDIR

PRODUCER = os.path.join(BINDIR, "producer", "framebus-producer")
# Programs started from here do not get the sanitizer runtime the ASan
# build preloads into the interpreter (an instrumented program has its own).
ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def make_clip(path, pix_fmt, frames=30):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=176x144:rate=25", "-frames:v", str(frames),
                    "-c:v", "ffv1", "-pix_fmt", pix_fmt, path], check=True, env=ENV)


def framemd5(path):
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "framemd5", "-"],
                         check=True, capture_output=True, text=True, env=ENV).stdout
    return [line.split(",")[-1].strip() for line in out.splitlines()
            if line and not line.startswith("#")]


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "bgr0", "gray16le"])
def test_producer_to_python_matches_framemd5(bus, tmp_path, pix_fmt):
    assert os.access(PRODUCER, os.X_OK), "build framebus-producer first: " + PRODUCER
    clip = str(tmp_path / "clip.mkv")
    make_clip(clip, pix_fmt)
    want = framemd5(clip)
    assert len(want) == 30
    with framebus.Reader(bus, lossless=True, timeout=30) as r:
        proc = subprocess.Popen([PRODUCER, clip, "--bus", bus, "--fps", "max",
                                 "--wait-readers", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env=ENV)
        got = []
        for f in r:
            assert f.pix_fmt == pix_fmt and (f.width, f.height) == (176, 144)
            got.append(hashlib.md5(f.tobytes()).hexdigest())
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    assert got == want
