"""Real server processes for the tests: gunicorn with the production settings (gunicorn.conf.py, wsgi:app) and
the job worker (`flask --app portal worker`), each in its own process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without any PORTAL_* setting of the caller's, plus `settings`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}, **settings}


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 1, output: IO | None = None) -> Iterator[str]:
    """`gunicorn -c gunicorn.conf.py wsgi:app` on a free loopback port; yields the base URL once /health answers."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own venv's gunicorn
        [
            str(BIN / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=output or subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "gunicorn exited"
            try:
                if requests.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or the workers still booting
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer /health within 30 s"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def worker(env: dict[str, str], *args: str, output: IO | None = None) -> subprocess.Popen:
    """The job worker in its own process (the caller waits for it or kills it); its log lines go to `output`."""
    return subprocess.Popen(  # noqa: S603 - our own venv's flask
        [str(BIN / "flask"), "--app", "portal", "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=output or subprocess.DEVNULL,
    )
