#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# OpenCV (Debian's python3-opencv, built with GStreamer) reads frames from a
# bus through framebussrc. Argument: the build directory.
import os
import subprocess
import sys

import cv2
import numpy as np

build = sys.argv[1]
bus = "gst-cv-%d" % os.getpid()
producer = subprocess.Popen([os.path.join(build, "producer", "framebus-producer"),
                             "--bus", bus, "--size", "320x240", "--frames", "20",
                             "--fps", "max", "--wait-readers", "1", "--quiet"])
try:
    cap = cv2.VideoCapture("framebussrc bus=%s policy=lossless timeout=20000000000 ! "
                           "videoconvert ! video/x-raw,format=BGR ! appsink" % bus,
                           cv2.CAP_GSTREAMER)
    assert cap.isOpened(), "OpenCV could not open the framebussrc pipeline"
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert producer.wait(timeout=30) == 0, "producer failed"
    assert len(frames) == 20, "got %d frames, expected 20" % len(frames)
    for f in frames:
        assert f.shape == (240, 320, 3), f.shape
    # A moving test pattern: consecutive frames differ, and none is blank.
    assert all(f.std() > 1.0 for f in frames)
    assert any(not np.array_equal(frames[i], frames[i + 1]) for i in range(19))
    print("ok: OpenCV read %d frames of 320x240 through framebussrc" % len(frames))
finally:
    if producer.poll() is None:
        producer.kill()
        producer.wait()
    for p in ("/dev/shm/framebus." + bus,):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
