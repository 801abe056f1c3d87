"""Stopping: Ctrl-C (SIGINT) and SIGTERM stop a build cleanly, whichever process receives them.

The command the user starts (the *wrapper*) re-runs itself with the interpreter in .venv; it forwards
SIGINT and SIGTERM to that process and waits for it, so killing the wrapper's process id stops the
build too. In the build process both signals raise ``KeyboardInterrupt`` once (a second signal while
it stops is ignored), so the context managers of :mod:`runner.publish` remove its folders and every
kernel is shut down; the command then prints one line and exits 128 + the signal's number. In the
test command's pytest process only a repeat within a second is ignored (the wrapper's forwarded copy
of a Ctrl-C the terminal sent too), so a later Ctrl-C still stops a cleanup that hangs.
"""
from __future__ import annotations

import signal
import subprocess
import time

STOPPING = {"signal": None}  # the signal that stopped this process, once one has


def _stop(signum, frame) -> None:
    if STOPPING["signal"] is not None:
        return  # stopping already: the cleanup runs to its end
    STOPPING["signal"] = signum
    raise KeyboardInterrupt


def install_stop_handlers() -> None:
    """In the build process: SIGINT and SIGTERM raise ``KeyboardInterrupt`` once."""
    STOPPING["signal"] = None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)


def install_repeat_handlers() -> dict:
    """In the test session's process (pytest's, under ``test``): SIGINT and SIGTERM raise
    ``KeyboardInterrupt``, but a repeat within a second is ignored. Ctrl-C reaches pytest twice at once
    (from the terminal, and forwarded by the wrapper): that is one stop, with pytest's one report;
    a later one stops a cleanup that hangs. Returns the handlers replaced, for :func:`restore`."""
    STOPPED_AT.clear()
    return {sig: signal.signal(sig, _stop_unless_repeated) for sig in (signal.SIGINT, signal.SIGTERM)}


STOPPED_AT: list = []  # when the test session's process was stopped (monotonic seconds)


def _stop_unless_repeated(signum, frame) -> None:
    now = time.monotonic()
    if STOPPED_AT and now - STOPPED_AT[-1] < 1.0:
        return  # the forwarded copy of the same stop
    STOPPED_AT.append(now)
    raise KeyboardInterrupt


def restore(handlers: dict) -> None:
    """Put back the signal handlers that :func:`install_repeat_handlers` replaced."""
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def stop_code() -> int:
    """The exit code of a stopped process: 128 + the signal (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + int(STOPPING["signal"] or signal.SIGINT)


def stop_name() -> str:
    """How the process was stopped, in words, for its one line."""
    return "SIGTERM" if STOPPING["signal"] == signal.SIGTERM else "Ctrl-C"


def run_forwarding(command: list[str], **options) -> int:
    """Run ``command`` and wait for it, forwarding SIGINT and SIGTERM to it; return its exit code.

    While the child runs, this process does not stop on those signals: it passes them on and waits,
    so the child can clean up and exit on its own (its exit code is returned).
    """
    child = subprocess.Popen(command, **options)

    def forward(signum, frame):
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = child.wait()
                return 128 - code if code < 0 else code  # killed by a signal: as a shell reports it
            except KeyboardInterrupt:  # a handler installed before ours
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
