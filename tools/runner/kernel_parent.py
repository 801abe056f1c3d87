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
import json
import os
import signal
import sys

KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell")


def reap(*_):
    """Collect every forked kernel that has exited (SIGCHLD), so none lingers as a zombie."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kernel(request: dict, reply_fd: int) -> None:
    """In the forked child: become the kernel the request describes; never returns."""
    try:
        os.close(reply_fd)
        os.setsid()  # a session of its own, as jupyter_client starts kernels (its signals go to the group)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # not the parent's request pipe
        if request["log"]:
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        from ipykernel.kernelapp import IPKernelApp  # (it puts the working folder first on sys.path)

        IPKernelApp.launch_instance(argv=[*request["argv"], f"--IPKernelApp.parent_handle={os.getppid()}"])
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
    forked = []
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            kernel(request, reply_fd)
        forked.append(pid)
        os.write(reply_fd, f"{pid}\n".encode())
    for pid in forked:  # the build is over or gone: no kernel outlives it
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    reap()


if __name__ == "__main__":
    main(sys.argv)
