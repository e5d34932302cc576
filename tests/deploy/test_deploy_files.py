"""The files in deploy/ as their own tools read them: `systemd-analyze verify` on the units (in a
private root holding the system's units and a stand-in for the installed `yecai`), `nginx -t` on
the proxy configuration with a certificate made here, and the command lines the units run."""

from __future__ import annotations

import inspect
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.topology import (
    INSTALLED_YECAI,
    SYSTEMD,
    environment_file,
    exec_start,
    nginx_check,
    nginx_main,
    nginx_site,
    self_signed,
    unit_environment,
    unit_file,
)
from yecai.cli.serve import serve_command, worker_command
from yecai.jobs.config import JobSettings
from yecai.settings import Settings

UNITS = ("yecai-web.service", "yecai-worker@.service", "yecai.target")
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "",
}


def _verify_root(tmp_path: Path) -> Path:
    """A root for `systemd-analyze verify --root`: the system's own units, ours, and an executable
    at the path the units run (verify refuses a command that does not exist)."""
    root = tmp_path / "root"
    system = root / "usr" / "lib" / "systemd"
    system.mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", system / "system", symlinks=True)
    ours = root / "etc" / "systemd" / "system"
    ours.mkdir(parents=True)
    for name in UNITS:
        shutil.copy(SYSTEMD / name, ours / name)
    shutil.copy(SYSTEMD / "yecai-worker@.service", ours / "yecai-worker@1.service")
    script = root / INSTALLED_YECAI.lstrip("/")
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    return root


def test_systemd_analyze_verifies_every_unit_without_a_complaint(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is not installed (Debian package systemd)"
    root = _verify_root(tmp_path)
    done = subprocess.run(
        [analyze, "verify", f"--root={root}", "yecai-web.service", "yecai-worker@1.service", "yecai.target"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on unknown keys and bad values too; it only says so on stderr
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_systemd_analyze_notices_a_broken_unit(tmp_path: Path) -> None:
    # the check above would pass on a tool that reads nothing: show it reports a bad value
    root = _verify_root(tmp_path)
    unit = root / "etc" / "systemd" / "system" / "yecai-web.service"
    unit.write_text(
        unit.read_text(encoding="utf-8").replace("ProtectSystem=strict", "ProtectSystem=stricter"),
        encoding="utf-8",
    )
    done = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "yecai-web.service"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "stricter" in done.stderr


@pytest.mark.parametrize("name", ["yecai-web.service", "yecai-worker@.service"])
def test_each_role_runs_as_its_own_user_hardened_and_restarted(name: str) -> None:
    service = unit_file(SYSTEMD / name)["Service"]
    assert service["User"] == ["yecai"]
    assert service["EnvironmentFile"] == ["/etc/yecai/yecai.env"]
    assert service["Restart"] == ["on-failure"]
    for key, value in HARDENING.items():
        assert service[key] == [value], key
    writable = service["ReadWritePaths"][0].split()
    assert "/var/lib/yecai" in writable  # the work directory: secrets key, import scratch
    assert "/etc/yecai/workspace" in writable  # mapping tables edited from the console


def test_the_example_env_file_expands_every_command_line() -> None:
    env = environment_file(SYSTEMD / "yecai.env.example")
    web = unit_file(SYSTEMD / "yecai-web.service")
    argv = exec_start(web, unit_environment(web, env))
    assert argv[3:] == [
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "8000",
        "--web-processes",
        "2",
        "--workers",
        "0",  # the web role runs no jobs: the workers do
    ]
    worker = unit_file(SYSTEMD / "yecai-worker@.service")
    assert exec_start(worker, unit_environment(worker, env))[3:] == ["worker"]
    # the environment file wins over the unit's defaults, as with systemd
    assert unit_environment(web, {**env, "YECAI_WEB_PORT": "9100"})["YECAI_WEB_PORT"] == "9100"
    assert env["YECAI_COOKIE_SECURE"] == "true"
    assert env["YECAI_QUEUE_URL"].startswith("redis://")
    assert env["YECAI_DATABASE_URL"].startswith("postgresql+psycopg://")


def _options(command: Callable[..., None]) -> set[str]:
    names: set[str] = set()
    for parameter in inspect.signature(command).parameters.values():
        names.update(getattr(parameter.default, "param_decls", ()) or ())
    return names


def test_the_options_the_units_pass_exist() -> None:
    # a renamed CLI option would make the units fail at start; Typer keeps the option names here
    assert {"--host", "--port", "--web-processes", "--workers"} <= _options(serve_command)
    assert "--workers" in _options(worker_command)


def test_every_variable_of_the_example_env_file_means_something() -> None:
    # a misspelt or retired setting in the env file would be ignored silently (extra="ignore")
    known = {f"YECAI_{name.upper()}" for name in Settings.model_fields}
    known |= {f"YECAI_JOBS_{name.upper()}" for name in JobSettings.model_fields}
    known |= {"YECAI_SECRET_KEY", "FORWARDED_ALLOW_IPS"}  # yecai.secrets.KEY_ENV; uvicorn's proxy trust
    for unit in ("yecai-web.service", "yecai-worker@.service"):  # the units' own command-line variables
        known |= set(unit_environment(unit_file(SYSTEMD / unit), {}))
    assert set(environment_file(SYSTEMD / "yecai.env.example")) <= known


def test_nginx_accepts_the_configuration_as_shipped(tmp_path: Path) -> None:
    certificate = self_signed(tmp_path / "tls")
    conf = nginx_main(tmp_path / "nginx", nginx_site(certificate))
    done = nginx_check(conf)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr
    assert "test is successful" in done.stderr


def test_nginx_refuses_a_broken_configuration(tmp_path: Path) -> None:
    certificate = self_signed(tmp_path / "tls")
    site = nginx_site(certificate).replace("proxy_read_timeout 300s;", "proxy_read_timeout;")
    done = nginx_check(nginx_main(tmp_path / "nginx", site))
    assert done.returncode != 0
    assert "proxy_read_timeout" in done.stderr
