"""One warm LibreOffice per execution environment, driven through unoserver.

Starting `soffice` costs seconds; converting a page through a running one costs a fraction of
that. So the process starts once (lazily, with a profile directory of its own, since two
LibreOffice processes cannot share one) and every document of every run unit goes through it.
A conversion that passes its deadline kills the whole process group (unoserver, soffice and its
children) and raises `ConversionTimeout`; the next document starts a fresh one.

unoserver's server needs LibreOffice's Python bindings (`uno`, Debian's python3-uno), which
belong to the system Python: it runs under `/usr/bin/python3` (or `$UNO_PYTHON`), with this
environment's unoserver package on its path. The client side is plain XML-RPC.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from tasklane.dap.ports import ConversionFailed, ConversionTimeout

STARTUP_SECONDS = 60.0
# How long, at exit, a conversion still running is given before its LibreOffice is stopped anyway.
AT_EXIT_WAIT_SECONDS = 5.0
# Runs unoserver's server under the Python that has `uno`. One change to how it opens documents:
# unoserver loads into the "_default" frame without Hidden, which lays the document out for a
# window that headless LibreOffice never shows; a hidden load into a new frame converts the same
# document in about two thirds of the time (0.16 s against 0.24 s for a page, measured here).
_BOOT = """
import sys
sys.path.insert(0, sys.argv.pop(1))
sys.path.append("/usr/lib/python3/dist-packages")
import unoserver.converter as converter
from com.sun.star.beans import PropertyValue

class HiddenLoads:
    def __init__(self, desktop):
        self._desktop = desktop

    def loadComponentFromURL(self, url, frame, flags, properties):
        # Also: no macros, and no updating of links to other files (documents are tenants' input).
        hidden = tuple(properties) + (
            PropertyValue(Name="Hidden", Value=True),
            PropertyValue(Name="MacroExecutionMode", Value=0),
            PropertyValue(Name="UpdateDocMode", Value=0),
        )
        return self._desktop.loadComponentFromURL(url, "_blank", flags, hidden)

    def __getattr__(self, name):
        return getattr(self._desktop, name)

_init = converter.UnoConverter.__init__

def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.desktop = HiddenLoads(self.desktop)

converter.UnoConverter.__init__ = init
from unoserver.server import main
sys.argv[0] = "unoserver"
main()
"""


class LibreOfficeMissing(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Transport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


def find_uno_python() -> str:
    """An interpreter that can `import uno`: $UNO_PYTHON, else the system Python."""
    configured = os.environ.get("UNO_PYTHON")
    candidates = [configured] if configured else ["/usr/bin/python3", "/usr/lib/libreoffice/program/python"]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    raise LibreOfficeMissing("no Python with LibreOffice's uno module (install python3-uno)")


class LibreOffice:
    """Implements `tasklane.dap.ports.Converter`. Thread-safe: conversions take turns."""

    def __init__(self, soffice: str | None = None, startup_seconds: float = STARTUP_SECONDS) -> None:
        self._soffice = soffice or shutil.which("soffice") or "soffice"
        self._startup_seconds = startup_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._port = 0
        self._lock = threading.Lock()
        self._ends_at_exit = False
        self.starts = 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def docx_to_pdf(self, content: bytes, deadline_seconds: float) -> bytes:
        deadline = time.monotonic() + max(deadline_seconds, 0.0)
        with self._lock:
            if not self.running:
                self._start(deadline)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConversionTimeout("no time left to convert")
            proxy = xmlrpc.client.ServerProxy(
                f"http://127.0.0.1:{self._port}", allow_none=True, transport=_Transport(left)
            )
            try:
                # unoserver's API 3: inpath, indata, outpath, convert_to, filtername, filter_options,
                # update_index, infiltername, password.
                result = proxy.convert(
                    None, xmlrpc.client.Binary(content), None, "pdf", "writer_pdf_Export", [], False, None, None
                )
            except (TimeoutError, socket.timeout):
                self._stop()
                raise ConversionTimeout(f"the conversion passed its deadline of {deadline_seconds:.1f} s") from None
            except xmlrpc.client.Fault as fault:
                raise ConversionFailed(_fault_text(fault)) from None
            except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
                self._stop()
                raise ConversionFailed(f"LibreOffice stopped answering ({type(exc).__name__})") from None
        if not isinstance(result, xmlrpc.client.Binary):
            raise ConversionFailed("LibreOffice returned no document")
        return bytes(result.data)

    def _start(self, deadline: float) -> None:
        if shutil.which(self._soffice) is None:
            raise LibreOfficeMissing(
                "LibreOffice is not installed: apt-get install libreoffice-writer-nogui python3-uno"
            )
        import unoserver

        self._stop()
        self._profile = tempfile.TemporaryDirectory(prefix="tasklane-lo-")
        self._port = _free_port()
        command = [
            find_uno_python(),
            "-c",
            _BOOT,
            str(Path(unoserver.__file__).parent.parent),
            "--interface", "127.0.0.1",
            "--port", str(self._port),
            "--uno-port", str(_free_port()),
            "--executable", self._soffice,
            "--user-installation", self._profile.name,
            "--quiet",
        ]  # fmt: skip
        # A session of its own, so that a timeout kills soffice and its children with it.
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "HOME": self._profile.name},
        )  # fmt: skip
        self.starts += 1
        if not self._ends_at_exit:
            # In a session of its own it outlives this process otherwise: on Lambda the environment
            # ends with it anyway; a local stack, `tasklane invoke` or a test run would leave it running.
            atexit.register(self._at_exit)
            self._ends_at_exit = True
        ready_by = min(deadline, time.monotonic() + self._startup_seconds)
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self._port}", transport=_Transport(2.0))
        while True:
            try:
                proxy.info()
                return
            except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError):
                if self._process.poll() is not None:
                    self._stop()
                    raise ConversionFailed("LibreOffice did not start") from None
                if time.monotonic() > ready_by:
                    self._stop()
                    raise ConversionTimeout("LibreOffice did not start in time") from None
                time.sleep(0.1)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        profile, self._profile = self._profile, None
        if profile is not None:
            profile.cleanup()

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _at_exit(self) -> None:
        # A conversion on a daemon thread may hold the lock at exit: wait for it a little, then stop anyway.
        locked = self._lock.acquire(timeout=AT_EXIT_WAIT_SECONDS)
        try:
            self._stop()
        finally:
            if locked:
                self._lock.release()


def _fault_text(fault: xmlrpc.client.Fault) -> str:
    text = str(fault.faultString).strip().splitlines()
    return (text[-1] if text else "the document could not be converted")[:300]
