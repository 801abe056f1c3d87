"""The kernels: each notebook's Python kernel, started early (it imports ``helpers`` while the notebooks
before it still run), given its notebook through papermill, and shut down when it is done.

Where the system can fork, the build's kernels are forked from one warm parent (:class:`WarmParent`,
``kernel_parent.py``) that has imported ipykernel and the notebooks' modules once: seven kernels
then cost the imports of one. Kernel connection files go to the folder the caller names (the build's
own copy), so a stopped build leaves none behind in Jupyter's runtime folder.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import os
import queue
import threading
import time
from pathlib import Path

# What a kernel imports while it waits for its inputs: the notebooks' one import, scipy.stats (the engine
# imports it at its first fit, which every notebook but 01 makes) and the matplotlib modules behind
# pyplot (not pyplot itself: the notebooks choose the backend before importing it).
WARM_UP_IMPORTS = ("helpers", "scipy.stats", "matplotlib.figure", "matplotlib.backends.backend_agg")
# What the warm parent imports for every kernel it forks whatever folder the kernel runs in: the packages
# behind ``helpers`` (the compendium's own modules come from the kernel's copy, or with WARM_UP_IMPORTS).
THIRD_PARTY_IMPORTS = ("numpy", "pandas", "scipy.stats", "matplotlib.figure", "matplotlib.backends.backend_agg")
# As nbclient starts kernels (no history file); the kernel's own log only from errors up, so --verbose does
# not show ipykernel's warning, once per kernel, that it talks over the local TCP ports unencrypted.
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
# Imports from several threads at once can fail (pyzmq's do), so the build imports under this lock.
IMPORTING = threading.Lock()
_KERNELS = itertools.count(1)  # numbers the connection files of this process


def strip_run_metadata(nb, name: str):
    """Drop the timestamps and durations papermill and nbclient write, number the cells, and join
    consecutive stream outputs (the kernel may send one print in one message or in two).

    With these removed a rerun writes a byte-identical notebook.
    """
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        cell["id"] = f"{name[:2]}-{i:02d}"
        outputs = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and outputs and outputs[-1].get("output_type") == "stream"
                    and outputs[-1].get("name") == out.get("name")):
                outputs[-1]["text"] += out["text"]
            else:
                outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs
    return nb


@functools.cache
def kernel_manager_class() -> type:
    """jupyter_client's AsyncKernelManager, keeping the clients it makes so :func:`stop_kernel` can close
    them (papermill leaves a kernel it was given running, and its client open)."""
    from jupyter_client.manager import AsyncKernelManager

    class KernelManager(AsyncKernelManager):
        def client(self, **kwargs):
            client = super().client(**kwargs)
            self.__dict__.setdefault("clients_made", []).append(client)
            return client

    return KernelManager


def kernel_environment() -> dict:
    """A build kernel's environment: this process's, and ``COMPENDIUM_BUILD=1`` (a notebook run by the
    build may write its outputs; run by hand with other parameters, it stops)."""
    return {**os.environ, "COMPENDIUM_BUILD": "1"}


class WarmParent:
    """The build's warm parent (``kernel_parent.py``): it imports what every kernel needs once and
    forks each kernel from there, so a kernel costs about 0.1 s of CPU instead of 1.7 s.

    Started at once (``Popen`` returns while it imports); :meth:`fork` waits for it. Closing it
    (:meth:`close`, or this process's end, which closes its stdin) makes it kill the kernels it
    forked and exit. Only where ``os.fork`` exists; elsewhere kernels start as jupyter_client starts them.
    """

    def __init__(self, root: Path | None, env: dict, quiet: bool = True, cwd: Path | None = None):
        """``root``: the repository whose ``src/helpers`` every kernel will import, or None when the
        kernels run in copies of their own (nbval's): then only :data:`THIRD_PARTY_IMPORTS`.
        ``quiet``: the parent's own output (an import's warning) goes nowhere, as a kernel's goes to
        its log; else to this process's terminal. ``cwd``: where the parent imports (matplotlib
        reads a ``matplotlibrc`` there); default ``root/notebooks``, where the kernels start."""
        import subprocess
        import sys

        self._read, write = os.pipe()
        src = str(Path(root) / "src") if root is not None else "-"
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("kernel_parent.py")),
                                         src, str(write)], stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL if quiet else None,
                                        stderr=subprocess.DEVNULL if quiet else None,
                                        cwd=cwd or (Path(root) / "notebooks" if root is not None else None),
                                        pass_fds=(write,), env=env, start_new_session=True)
        os.close(write)
        self._lock = threading.Lock()
        self._requests = itertools.count(1)
        self.forked, self.closed = 0, False

    def fork(self, argv: list[str], cwd: str, env: dict, log: str | None) -> int:
        """Fork a kernel with ``ipykernel_launcher``'s arguments ``argv``; return its pid.

        Raises RuntimeError when the parent has stopped or could not fork. Each request carries a
        number the reply repeats, so a reply left behind by an interrupted call is never taken for
        the next kernel's."""
        import json

        with self._lock:
            if self._read is None:
                raise RuntimeError("the kernels' warm parent has stopped")
            number = next(self._requests)
            request = {"id": number, "argv": argv, "cwd": cwd, "env": env, "log": log}
            try:
                self.process.stdin.write((json.dumps(request) + "\n").encode())
                self.process.stdin.flush()
            except (OSError, ValueError):  # closed: the build is over
                raise RuntimeError("the kernels' warm parent has stopped") from None
            while True:
                reply = b""
                while not reply.endswith(b"\n"):
                    chunk = os.read(self._read, 1)
                    if not chunk:
                        raise RuntimeError("the kernels' warm parent has stopped")
                    reply += chunk
                answered, pid = map(int, reply.split())
                if answered == number:
                    break
            if pid < 0:
                raise RuntimeError("the kernels' warm parent could not fork")
            self.forked += 1
        return pid

    def close(self) -> None:
        """Let the warm parent kill its kernels and exit, and wait for it; one that has forked none
        (a build stopped by a bad sheet) is killed at once, its imports no longer wanted. A fork
        still waiting for the parent then fails at once (RuntimeError). Safe to call again."""
        self.closed = True
        with contextlib.suppress(OSError, ValueError):  # not under the lock: a fork may be waiting for the parent
            self.process.stdin.close()
        if not self.forked:
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=10)
        with self._lock:  # the parent is gone, so no fork is left reading the reply pipe
            if self._read is not None:
                os.close(self._read)
                self._read = None


class _Forked:
    """What jupyter_client asks of a kernel's process (``subprocess.Popen``'s poll, wait, send_signal,
    kill and terminate), for a kernel the warm parent forked and reaps."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self):
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
                with open(f"/proc/{self.pid}/stat", "rb") as stat:  # Linux: a zombie is no kernel
                    if stat.read().rpartition(b")")[2].split()[0] == b"Z":
                        self.returncode = -9
            except (ProcessLookupError, PermissionError):  # gone (a pid of another user's is not it)
                self.returncode = -9  # its exit status went to the warm parent; killed, as a rule
            except OSError:  # no /proc: the signal test alone
                pass
        return self.returncode

    def wait(self, timeout: float | None = None):
        import subprocess

        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)


@functools.cache
def forked_provisioner_class() -> type:
    """jupyter_client's local provisioner, launching the kernel through a :class:`WarmParent`."""
    from jupyter_client.provisioning import LocalProvisioner

    class ForkedProvisioner(LocalProvisioner):
        warm_parent: WarmParent | None = None

        async def launch_kernel(self, cmd: list[str], **kwargs):
            log = getattr(kwargs.get("stdout") or kwargs.get("stderr"), "name", None)
            try:
                pid = self.warm_parent.fork(cmd[cmd.index("-f"):], str(kwargs.get("cwd") or os.getcwd()),
                                            dict(kwargs.get("env") or os.environ), log if isinstance(log, str) else None)
            except (RuntimeError, ValueError):  # ValueError: a command without "-f" is not ipykernel's
                if self.warm_parent.closed:  # the build is over or stopped
                    raise
                return await super().launch_kernel(cmd, **kwargs)  # the parent failed: a kernel of its own
            self.process, self.pid, self.pgid = _Forked(pid), pid, pid  # the kernel leads its own session
            self.cwd = kwargs.get("cwd", Path.cwd())
            return self.connection_info

    return ForkedProvisioner


def fork_from(km, warm_parent: WarmParent):
    """Make the (not yet started) kernel manager ``km`` fork its kernel from ``warm_parent``; return ``km``."""
    import uuid

    km.kernel_id = km.kernel_id or str(uuid.uuid4())
    km.provisioner = forked_provisioner_class()(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
    km.provisioner.warm_parent = warm_parent
    return km


def import_kernel_machinery() -> None:
    """Import all that :func:`start_kernel` needs (kernel spec included), so its threads import nothing."""
    import jupyter_client.blocking  # noqa: F401
    import jupyter_core.utils  # noqa: F401

    kernel_manager_class()(kernel_name="python3").kernel_spec  # noqa: B018 - loads ipykernel's spec code


class Stopped(Exception):
    """The build stopped (another step failed) while this kernel was starting."""


def start_kernel(root: Path, log, stopped=lambda: False, connection_dir: Path | None = None,
                 warm_parent: WarmParent | None = None) -> object:
    """Start a Python kernel in ``root/notebooks`` and let it import :data:`WARM_UP_IMPORTS`.

    The imports run silently (no output, no execution count, names removed afterwards), so the
    notebook later finds them in ``sys.modules`` and nothing else differs. If ``stopped()`` turns
    true meanwhile (e.g. a bad sheet), the kernel is shut down at once and :class:`Stopped` raised.

    Parameters
    ----------
    root : Path
        The repository root.
    log : file or None
        Where the kernel process writes its own stdout and stderr; None inherits the terminal.
    stopped : callable
        Asked every tenth of a second while the imports run.
    connection_dir : Path, optional
        Where the kernel's connection file goes (default: Jupyter's runtime folder). The build names
        its staging folder, so nothing of a stopped build outlives its folder.
    warm_parent : WarmParent, optional
        Fork the kernel from there (its imports done) instead of starting a new Python.

    Returns
    -------
    jupyter_client.AsyncKernelManager
        The running kernel (of :func:`kernel_manager_class`), for ``papermill.execute_notebook(km=...)``.
    """
    from jupyter_core.utils import run_sync

    options = {}
    if connection_dir is not None:
        options["connection_file"] = str(Path(connection_dir) / f"kernel-{os.getpid()}-{next(_KERNELS)}.json")
    km = kernel_manager_class()(kernel_name="python3", **options)
    if warm_parent is not None:
        fork_from(km, warm_parent)
    run_sync(km.start_kernel)(cwd=str(root / "notebooks"), extra_arguments=KERNEL_ARGUMENTS,
                              stdout=log, stderr=log, env=kernel_environment())
    src = str(root / "src")
    code = (f"import importlib as _i, sys as _s\n_s.path.insert(0, {src!r})\n"
            f"for _m in {WARM_UP_IMPORTS!r}:\n    try:\n        _i.import_module(_m)\n"
            f"    except Exception:\n        pass\n_s.path.remove({src!r})\ndel _i, _s, _m\n")
    client = km.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        msg_id = client.execute(code, silent=True, store_history=False)
        deadline = time.monotonic() + 120
        while True:
            if stopped():
                raise Stopped()
            try:
                if client.get_shell_msg(timeout=0.1)["parent_header"].get("msg_id") == msg_id:
                    break
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError("the kernel took over 120 s to import the notebooks' modules") from None
    except BaseException:
        stop_kernel(km)
        raise
    finally:
        client.stop_channels()
    return km


def kill_kernel(km) -> None:
    """Kill the kernel's process (and its session) at once, from any thread: its notebook fails, and
    the thread that started it then shuts it down (:func:`stop_kernel`). Only that thread touches the
    kernel's sockets: two threads shutting one kernel down could leave zmq waiting for ever."""
    import signal

    provisioner = getattr(km, "provisioner", None)
    group = getattr(provisioner, "pgid", None) or getattr(provisioner, "pid", None)
    if group:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)


def stop_kernel(km) -> None:
    """Close the kernel's clients and shut it down (it has finished its notebook, or the build stopped)."""
    from jupyter_core.utils import run_sync

    with contextlib.suppress(Exception):
        for client in km.__dict__.get("clients_made", []):
            client.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)


def run_notebook(km, source: Path, target: Path, name: str, parameters: dict | None) -> None:
    """Run ``source`` with papermill in the kernel ``km``; write it, metadata stripped, to ``target``."""
    import nbformat
    import papermill

    nb = nbformat.read(source, as_version=4)
    nb = papermill.execute_notebook(nb, None, parameters=parameters or None, kernel_name="python3",
                                    progress_bar=False, request_save_on_cell_execute=False, km=km)
    nbformat.write(strip_run_metadata(nb, name), target)
