"""A helper process of `wdh resolve`, talked to with pickled messages over its stdin and stdout.

CPython runs one thread's Python at a time, so work that is Python per row
(XlsxWriter's cells; reading, keying and writing a CSV) only uses a second
core from a second process. Both helpers (wdh_cli.tabular.sheet_writer,
the xlsx writer) start and talk through this module.

The child never prints: what it has to say comes back as messages, an error
as ("error", exception), raised again in wdh. It runs in a session of its
own, so a Ctrl-C at the terminal reaches only wdh, which then tells it to
stop (or kills it); a child whose wdh vanished reads the end of its input
and stops.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from wdh_cli.errors import WdhError

PROTOCOL = pickle.HIGHEST_PROTOCOL
LENGTH = 8  # bytes of the length that goes before each message


def write_message(fd: int, message: tuple[Any, ...]) -> None:
    """One pickled message, its length first, written whole (however the writes are cut).

    Plain os.write in a loop, not a buffered file: a process stopped and
    continued (Ctrl-Z, a debugger) mid-write must lose no byte.
    """
    data = pickle.dumps(message, protocol=PROTOCOL)
    view = memoryview(len(data).to_bytes(LENGTH, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


def read_message(fd: int) -> tuple[Any, ...]:
    """The next message; EOFError when the other side closed the pipe."""
    length = int.from_bytes(_read_exactly(fd, LENGTH), "big")
    message: tuple[Any, ...] = pickle.loads(_read_exactly(fd, length))
    return message


def _read_exactly(fd: int, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 1 << 20))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


class ChildGone(WdhError):
    """The child ended without saying why (killed, or out of memory): exit 1."""


class Child:
    """`python -m MODULE ARGS...` with pipes for messages; `what` names it in errors."""

    def __init__(self, module: str, *args: str, what: str) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self.what = what
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            env=env,
            start_new_session=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._to: IO[bytes] = self.process.stdin
        self._from: IO[bytes] = self.process.stdout

    def send(self, message: tuple[Any, ...]) -> None:
        """Send a message; a child that stopped reading raises what it met (or ChildGone)."""
        try:
            write_message(self._to.fileno(), message)
        except (BrokenPipeError, ValueError):
            self.receive()  # its error, if it sent one
            raise ChildGone(self._status()) from None

    def receive(self) -> tuple[Any, ...]:
        """The next message; the child's error is raised here, its silent end is ChildGone."""
        try:
            message = read_message(self._from.fileno())
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):
            self._end()
            raise ChildGone(self._status()) from None
        if message[0] == "error":
            self.process.wait()
            raise message[1]
        return message

    def finish(self) -> None:
        """The child said its last word: close the pipes and reap it."""
        for pipe in (self._to, self._from):
            with contextlib.suppress(OSError):  # a broken pipe: nothing left to flush
                pipe.close()
        self.process.wait()

    def stop(self) -> None:
        """Tell the child to drop its work; kill it if it does not end at once.

        Our end of its output is closed first: a child blocked sending to us
        then fails at once (a broken pipe), as one waiting for us reads "abandon".
        Either way it drops its files itself and ends.
        """
        self._from.close()
        try:
            write_message(self._to.fileno(), ("abandon",))
            self._to.close()
        except (OSError, ValueError):
            pass
        self._end()

    def _end(self) -> None:
        """The child must end now (it may be blocked writing to a pipe no one reads)."""
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _status(self) -> str:
        code = self.process.poll()
        if code is not None and code < 0:
            return f"{self.what} was ended by signal {-code}"
        return f"{self.what} ended unexpectedly (exit status {code})"


Receive = Callable[[], tuple[Any, ...]]
Send = Callable[[tuple[Any, ...]], None]


def serve(work: Callable[[Receive, Send], None]) -> int:
    """A child's main: run `work(receive, send)`; an exception goes back to wdh as a message."""
    # wdh handles the signals (and ends this process); a stray one must not
    # print a traceback here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, sink = sys.stdin.fileno(), sys.stdout.fileno()
    # Nothing else may write to the channel to wdh.
    sys.stdout = sys.stderr

    def receive() -> tuple[Any, ...]:
        return read_message(source)

    def send(message: tuple[Any, ...]) -> None:
        write_message(sink, message)

    try:
        work(receive, send)
    except (EOFError, BrokenPipeError):
        return 0  # wdh is gone: nothing to report to
    except Exception as exc:
        with contextlib.suppress(OSError):  # wdh may be gone too
            send(("error", _portable(exc)))
        return 1
    return 0


def _portable(exc: BaseException) -> BaseException:
    """The exception, or a WdhError with its text when it would not survive pickling."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return WdhError(f"{type(exc).__name__}: {exc}")
    return exc
