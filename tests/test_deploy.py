"""The deployment files (deploy/, Containerfile, gunicorn.conf.py) agree with the code and with each other.

The image cannot be built here (no container engine), so the Containerfile is parsed (dockerfile-parse) and held to
what the app needs at run time; the systemd units are parsed as the INI files they are.
"""

from __future__ import annotations

import configparser
import io
import json
import re
import runpy
import shlex
import tomllib

import pytest
from dockerfile_parse import DockerfileParser

from portal.config import defaults
from tests.serving import ROOT

SERVE = ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]


@pytest.fixture(scope="module")
def containerfile() -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO((ROOT / "Containerfile").read_bytes()))


def instructions(parser: DockerfileParser, name: str) -> list[str]:
    return [item["value"] for item in parser.structure if item["instruction"] == name]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((ROOT / "deploy" / name).read_text())
    return parser


@pytest.fixture()
def gunicorn_settings(tmp_path, monkeypatch) -> dict:
    """gunicorn.conf.py's values, read as gunicorn reads it (its metrics directory kept inside tmp_path)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_the_image_runs_the_supported_python(containerfile):
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(part) for part in required.removeprefix(">=").split("."))
    match = re.fullmatch(r"docker\.io/library/python:(\d+)\.(\d+)-slim-\w+", containerfile.baseimage)
    assert match, containerfile.baseimage
    assert (int(match.group(1)), int(match.group(2))) >= minimum


def test_the_image_copies_everything_the_app_reads_and_nothing_missing(containerfile):
    copied = set()
    for value in instructions(containerfile, "COPY"):
        *sources, _destination = shlex.split(value)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            copied.add(source.rstrip("/"))
    # create_app reads templates/ and static/ beside the package; gunicorn needs wsgi.py and its settings.
    assert {"pyproject.toml", "portal", "templates", "static", "wsgi.py", "gunicorn.conf.py"} <= copied


def test_the_image_serves_like_production_as_an_unprivileged_user(containerfile):
    assert json.loads(instructions(containerfile, "CMD")[-1]) == SERVE
    assert instructions(containerfile, "USER")[-1] not in ("root", "0")
    environment = containerfile.envs
    port = environment["PORTAL_WEB_BIND"].rsplit(":", 1)[1]
    assert instructions(containerfile, "EXPOSE") == [port]
    assert f"127.0.0.1:{port}/health" in instructions(containerfile, "HEALTHCHECK")[-1]
    assert environment["PROMETHEUS_MULTIPROC_DIR"] and environment["PORTAL_INSTANCE_PATH"]


def test_the_systemd_units_run_the_same_commands():
    web, worker = unit("portal-web.service"), unit("portal-worker@.service")
    assert shlex.split(web["Service"]["ExecStart"])[1:] == SERVE[1:]
    assert shlex.split(web["Service"]["ExecStart"])[0].endswith("/.venv/bin/gunicorn")
    assert shlex.split(worker["Service"]["ExecStart"])[1:] == ["--app", "portal", "worker"]
    for service in (web, worker):
        assert service["Service"]["User"] != "root"
        assert service["Service"]["Restart"] == "always"
        assert service["Service"]["EnvironmentFile"] == "/etc/portal/portal.env"
    # The metrics directory is the unit's RuntimeDirectory: one per instance, emptied at every start.
    assert f"PROMETHEUS_MULTIPROC_DIR=/run/{web['Service']['RuntimeDirectory']}" in (
        (ROOT / "deploy" / "portal-web.service").read_text()
    )


def test_systemd_waits_longer_than_gunicorn_lets_requests_finish(gunicorn_settings):
    web = unit("portal-web.service")
    assert int(web["Service"]["TimeoutStopSec"]) > gunicorn_settings["graceful_timeout"]


def test_gunicorn_defaults_believe_no_forwarded_header_and_recycle_workers(gunicorn_settings):
    assert gunicorn_settings["forwarded_allow_ips"] == "" and gunicorn_settings["secure_scheme_headers"] == {}
    assert gunicorn_settings["workers"] >= 2 and gunicorn_settings["worker_class"] == "gthread"
    assert gunicorn_settings["max_requests"] > 0 and gunicorn_settings["max_requests_jitter"] > 0
    assert gunicorn_settings["keepalive"] > 60  # longer than the proxy's idle timeout
    assert gunicorn_settings["preload_app"] is False


def test_the_example_environment_names_real_settings():
    known = set(defaults("/instance")) | {
        "INSTANCE_PATH",
        "LOG_LEVEL",
        "WEB_BIND",
        "WEB_WORKERS",
        "WEB_THREADS",
    }
    text = (ROOT / "deploy" / "portal.env.example").read_text()
    names = re.findall(r"^#? ?PORTAL_([A-Z0-9_]+)=", text, re.MULTILINE)
    assert "BASE_URL" in names and "SECRET_KEY" in names and "ENV_MODE" in names
    assert set(names) <= known, set(names) - known
