# SPDX-License-Identifier: MIT
"""The examples in python/examples run: an OpenCV capture of a file into a
bus, the OpenCV filter reader on it, and the multiprocessing fan-out."""
import os
import subprocess
import sys

from conftest import child_env

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def example(name, *args, **kw):
    return subprocess.Popen([sys.executable, os.path.join(EXAMPLES, name)] +
                            [str(a) for a in args], env=child_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_capture_and_filter(bus, tmp_path):
    clip = str(tmp_path / "clip.avi")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25", "-frames:v", "40", "-c:v", "mjpeg",
                    clip], check=True,
                   env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    view = example("filter_view.py", "--bus", bus, "--lossless", "--no-window",
                   "--frames", 40, "--filter", "edges")
    cap = example("capture_to_bus.py", clip, "--bus", bus, "--wait-readers", 1)
    _, cerr = cap.communicate(timeout=60)
    _, verr = view.communicate(timeout=60)
    assert cap.returncode == 0, cerr
    assert view.returncode == 0, verr
    assert "320x240 bgr24" in cerr and "40 frames" in cerr
    assert "filter_view: 40 frames" in verr


def test_fanout(bus):
    p = example("fanout.py", "--bus", bus, "--frames", 60, "--size", "320x180")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, out + err
    assert out.count("60 frames, 0 wrong") == 3
