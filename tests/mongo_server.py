"""A MongoDB wire-protocol server for tests: nx-27017 in a subprocess.

No MongoDB server can be installed where the tests run, so the tests start
nx-27017 (SQLite-backed, pip-installable). The real driver talks to it over
a real socket.  Set ``MONGO_URL`` to run the same tests against a real MongoDB
instead (see ``mongo_url``).

What nx-27017 0.8.1 does and does not do, as found by experiment:

* It enforces unique indexes, ``_id`` included, and reports violations as
  write errors with code 11000.  The errors carry no ``keyPattern``, only a
  message naming its own index (``idx_log_stream_version``), because it ignores
  the index names it is given.
* It ignores ``partialFilterExpression`` and collection validators.  Documents
  whose indexed key is null or missing never collide (SQLite NULL semantics).
* It runs one command at a time per database, so ``findAndModify`` with
  ``$inc`` is atomic.  Its transactions are not isolated, and in single-file
  mode databases are not isolated either.  Always start it with ``--data-dir``
  (one SQLite file per database), and give each test its own database.
* It writes a pid file, ``/tmp/nx_27017.pid`` by default, and refuses to start
  while that file names a live process.  Each server started here gets its own
  pid and log files inside its data dir.

Product code never imports this module.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

MONGO_URL_ENV = "MONGO_URL"
_LAUNCH = "import sys; from nx_27017.nx_27017 import main; sys.exit(main())"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unique_database(prefix: str = "ts_test") -> str:
    """A database name no other test uses: valid on MongoDB and nx-27017 (max 63 chars)."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def ping(url: str, timeout: float = 1.0) -> bool:
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(
            url, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=int(timeout * 1000)
        )
        with client:
            client.admin.command("ping")
        return True
    except PyMongoError:
        return False


def drop_database(url: str, name: str) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=3000)
    with client:
        client.drop_database(name)


class Nx27017:
    """One nx-27017 process on a free port, serving databases from ``data_dir``."""

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", start_timeout: float = 15.0) -> None:
        self.data_dir = data_dir
        self.host = host
        self.start_timeout = start_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/"

    @property
    def output(self) -> Path:
        return self.data_dir / "nx-27017.out"

    def start(self, attempts: int = 3, *, port: int | None = None) -> str:
        """Start the server and wait until it answers a ping; returns its URL.  With
        ``port`` (say, a restart after ``kill``), on that port, so that clients
        configured with the old URL find it again."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, attempts + 1):
            self.port = port if port is not None else free_port()
            command = [
                sys.executable, "-c", _LAUNCH,
                "--data-dir", str(self.data_dir),
                "--host", self.host,
                "--port", str(self.port),
                "--pid-file", str(self.data_dir / f"nx-27017-{self.port}.pid"),
                "--log-file", str(self.data_dir / "nx-27017.log"),
            ]  # fmt: skip
            with self.output.open("ab") as out:
                self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=self.data_dir)
            if self._wait_until_ready():
                return self.url
            self.stop()
            if attempt == attempts:
                break
        tail = self.output.read_text(errors="replace")[-2000:] if self.output.exists() else ""
        raise RuntimeError(f"nx-27017 did not start on {self.host}:{self.port}:\n{tail}")

    def _wait_until_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # exited: port taken, bad arguments, missing package
            if ping(self.url, timeout=0.5):
                return True
            time.sleep(0.1)
        return False

    def kill(self) -> None:
        """SIGKILL by its pid (a crash): whatever it had not written is gone."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process by its pid; kill it when it does not exit in time."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@contextlib.contextmanager
def mongo_url(data_dir: Path) -> Iterator[str]:
    """``$MONGO_URL`` when set; otherwise a fresh nx-27017 on ``data_dir``, stopped on exit."""
    configured = os.environ.get(MONGO_URL_ENV)
    if configured:
        yield configured
        return
    server = Nx27017(data_dir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
