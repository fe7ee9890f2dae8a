"""A child process that ends when its parent does: parent-death signal on Linux, and a pipe to watch.

Used by the serving workers (:mod:`catalog.serving`). It must not do anything else to the process: no
signal handlers of its own, nothing that touches the app.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the Linux kernel to send ``sig`` to this process when its parent dies; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _watch(lifeline: Connection) -> None:
    """Block until the parent's end of ``lifeline`` closes (the parent is gone), then end this process."""
    try:
        while True:
            lifeline.recv()  # the parent never sends; anything but EOF is ignored
    except (EOFError, OSError):
        pass
    os._exit(1)  # no clean-up: the supervisor is dead, and a worker left alone would hold the port


def die_with_parent(parent: int, lifeline: Connection, *, death_signal: bool = True) -> None:
    """Make this process end when process ``parent`` (the one that started it) ends, however it ends.

    The death signal is delivered by the kernel and needs nothing from this process (Linux sends it when
    the parent's thread that started the child ends: the supervisor starts workers from its main thread).
    The pipe is the fallback (another OS, or ``death_signal=False``, which the tests use to prove it
    alone); a parent that died before either was armed is seen by ``getppid``."""
    if death_signal:
        set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(lifeline,), name="parent-lifeline", daemon=True).start()
