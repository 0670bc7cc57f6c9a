# SPDX-License-Identifier: MIT
"""pytest fixtures of the framebus Python tests: a unique bus name per test
(removed in teardown), the build directory, and child processes."""
import itertools
import os
import subprocess
import sys

import pytest

import framebus

HERE = os.path.dirname(os.path.abspath(__file__))
BINDIR = os.environ.get("FBUS_BINDIR", os.path.join(HERE, "..", "..", "build"))
_counter = itertools.count()


def child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [os.path.dirname(framebus.__file__), HERE, env.get("PYTHONPATH")] if p)
    return env


def spawn(*args, **kw):
    """Start `python3 helpers.py ARGS...` (or `python3 -c CODE` with
    code=...) with this interpreter and this module."""
    code = kw.pop("code", None)
    cmd = [sys.executable] + (["-c", code] if code else [os.path.join(HERE, "helpers.py")])
    return subprocess.Popen(cmd + [str(a) for a in args], env=child_env(), **kw)


def _remove(name):
    for t in ("posix", "sysv"):
        try:
            framebus.unlink(name, t)
        except framebus.Error:
            pass


@pytest.fixture
def bus(request):
    """A bus name unique to this test and run, removed afterwards."""
    name = "py%d-%d-%s" % (os.getpid(), next(_counter), request.node.name[:20])
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:64]
    yield name
    _remove(name)
