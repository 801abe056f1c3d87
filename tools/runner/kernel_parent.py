"""The build's warm parent: one process that imports what every kernel needs, then forks each kernel.

    python kernel_parent.py SRC REPLY_FD

Run by :class:`runner.kernels.WarmParent`, not by hand. It imports ipykernel and the notebooks'
modules once (:data:`runner.kernels.THIRD_PARTY_IMPORTS`, and :data:`runner.kernels.WARM_UP_IMPORTS`
with ``helpers`` from SRC unless SRC is ``-``: then each kernel imports the compendium's own modules
from the copy it runs in). Then it reads one request per line on stdin (JSON: the kernel's
arguments, working folder, environment and log file), forks, and writes the child's pid and a
newline to the file descriptor REPLY_FD. The child is a kernel as
``python -m ipykernel_launcher`` makes one, in a session of its own, with the imports already done:
a kernel costs about 0.1 s of CPU instead of 1.7 s. When stdin closes (the build is over, or gone)
the parent kills the kernels it forked and exits; a kernel whose parent is gone exits by itself
(ipykernel's parent poller).
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import sys

KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell")
LAUNCHER = "ipykernel_launcher"  # the module whose run a forked kernel stands in for
REAPED: set[int] = set()  # kernels collected already: their pids may belong to other processes now


def reap(*_):
    """Collect every forked kernel that has exited (SIGCHLD), so none lingers as a zombie."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        REAPED.add(pid)


def die_with(parent: int) -> None:
    """Exit when ``parent`` is gone: at once if it already is, and on Linux by a death signal set now
    (a kernel forked just before its parent was killed would otherwise live on, unknown to anyone)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(0)


def kernel(request: dict, reply_fd: int, parent: int) -> None:
    """In the forked child: become the kernel the request describes; never returns."""
    try:
        die_with(parent)
        os.close(reply_fd)
        os.setsid()  # a session of its own, as jupyter_client starts kernels (its signals go to the group)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # not the parent's request pipe
        os.close(null)
        if request["log"]:
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.close(log)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"], JPY_PARENT_PID=str(parent))
        sys.argv = [importlib.util.find_spec(LAUNCHER).origin, *request["argv"]]
        for name in ("random", "numpy.random"):  # a generator seeded afresh, as in a new process
            if name in sys.modules:
                sys.modules[name].seed()
        from ipykernel.kernelapp import IPKernelApp  # (it puts the working folder first on sys.path)

        IPKernelApp.launch_instance(argv=[*request["argv"], f"--IPKernelApp.parent_handle={parent}"])
    finally:
        os._exit(0)


def main(argv: list[str]) -> None:
    src, reply_fd = argv[1], int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the build forwards stops; Ctrl-C is its to handle
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as ipykernel sets it
    from kernels import THIRD_PARTY_IMPORTS, WARM_UP_IMPORTS  # this script's folder, first on sys.path

    sys.modules.pop("kernels")
    sys.path[0] = src  # in place of this script's folder, for helpers, as a kernel's warm-up puts it
    for name in (*KERNEL_MODULES, *THIRD_PARTY_IMPORTS, *(WARM_UP_IMPORTS if src != "-" else ())):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the notebook's own import will say what is wrong
            pass
    sys.path.pop(0)  # and takes it away again: a kernel's sys.path is ipykernel's
    signal.signal(signal.SIGCHLD, reap)
    me, forked = os.getpid(), []
    try:
        for line in sys.stdin:
            request = json.loads(line)
            try:
                pid = os.fork()
            except OSError:  # no fork now: the caller starts this kernel the usual way
                pid = -1
            if pid == 0:
                kernel(request, reply_fd, me)
            if pid > 0:
                forked.append(pid)
            os.write(reply_fd, f"{request['id']} {pid}\n".encode())
    finally:  # the build is over or gone: no kernel outlives it, and none is left a zombie
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        alive = [pid for pid in forked if pid not in REAPED]  # unreaped: the pid is still the kernel's
        for pid in alive:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in alive:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:  # reaped meanwhile
                pass
        os._exit(0)  # without the interpreter's slow shutdown of numpy, pandas, scipy and matplotlib


if __name__ == "__main__":
    main(sys.argv)
