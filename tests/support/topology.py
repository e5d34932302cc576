"""Helpers of the deployment tests (no tests here): the files in deploy/ read the way systemd and
nginx read them, so the tests run exactly the command lines and the proxy configuration that a
production host would.

`unit_file` parses a systemd unit (repeated keys kept in order), `environment_file` an
EnvironmentFile=, `exec_start` expands a unit's ExecStart= with its Environment= defaults
overridden by the environment file (systemd's order). `self_signed` makes a certificate for the
TLS edge, `nginx_site` substitutes the ports and certificate paths of deploy/nginx/yecai.conf
(each substitution must hit exactly once, so an edit of the file cannot silently escape the
tests), and `Nginx` runs it in the foreground under a private prefix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SYSTEMD = DEPLOY / "systemd"
NGINX_SITE = DEPLOY / "nginx" / "yecai.conf"
# what the units run (pyproject's console script); the tests run the same entry point with this
# interpreter, which has yecai installed
INSTALLED_YECAI = "/opt/yecai/venv/bin/yecai"
YECAI_ENTRY = "from yecai.cli.main import app; app()"
SERVER_NAME = "yecai.example.com"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections → key → values (a key may repeat, as SystemCallFilter= does); comments dropped."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"{path.name}: not a unit-file line: {raw!r}")
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an EnvironmentFile= (comments and blank lines skipped, quotes removed)."""
    found: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def unit_environment(unit: dict[str, dict[str, list[str]]], env_file: dict[str, str]) -> dict[str, str]:
    """The service's environment: Environment= assignments, then the EnvironmentFile's (which win)."""
    merged: dict[str, str] = {}
    for assignments in unit["Service"].get("Environment", []):
        for word in shlex.split(assignments):
            key, value = word.split("=", 1)
            merged[key] = value
    return {**merged, **env_file}


def exec_start(unit: dict[str, dict[str, list[str]]], environment: dict[str, str]) -> list[str]:
    """ExecStart= as argv, ${VAR} expanded as systemd does (each ${VAR} one word); the installed
    console script replaced by this interpreter running the same entry point."""
    (line,) = unit["Service"]["ExecStart"]
    words = []
    for word in shlex.split(line):

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environment:
                raise KeyError(f"ExecStart= uses ${{{name}}}, which neither the unit nor the env file sets")
            return environment[name]

        words.append(_VARIABLE.sub(value, word))
    if words[0] != INSTALLED_YECAI:
        raise ValueError(f"the unit runs {words[0]}, not {INSTALLED_YECAI}")
    return [sys.executable, "-c", YECAI_ENTRY, *words[1:]]


def seconds(value: str) -> float:
    """A systemd time span as the units write it: `5`, `5s`, `2min`."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|min)?", value)
    if match is None:
        raise ValueError(f"unsupported time span {value!r}")
    number = float(match.group(1))
    return number * 60 if match.group(2) == "min" else number


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed(directory: Path) -> Certificate:
    """An ECDSA P-256 certificate for the server name and 127.0.0.1, valid for a day."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(directory / "fullchain.pem", directory / "privkey.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    paths.key.chmod(0o600)
    return paths


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise AssertionError(f"deploy/nginx/yecai.conf should contain {old!r} once; the test substitutes it")
    return text.replace(old, new)


def nginx_site(
    certificate: Certificate, *, https_port: int = 443, http_port: int = 80, upstream_port: int = 8000
) -> str:
    """deploy/nginx/yecai.conf with the test's certificate and ports (IPv6 listeners dropped when
    the ports change: a test binds loopback only)."""
    text = NGINX_SITE.read_text(encoding="utf-8")
    text = _replace_once(text, "/etc/yecai/tls/fullchain.pem;", f"{certificate.cert};")
    text = _replace_once(text, "/etc/yecai/tls/privkey.pem;", f"{certificate.key};")
    if upstream_port != 8000:
        text = _replace_once(text, "server 127.0.0.1:8000 ", f"server 127.0.0.1:{upstream_port} ")
    if http_port != 80:
        text = _replace_once(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
        text = _replace_once(text, "listen [::]:80;", "")
    if https_port != 443:
        text = _replace_once(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
        text = _replace_once(text, "listen [::]:443 ssl http2;", "")
    return text


def nginx_main(prefix: Path, site: str) -> Path:
    """A main nginx.conf under `prefix` that includes the site (http context, as conf.d/ is)."""
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "yecai.conf").write_text(site, encoding="utf-8")
    # the master runs as this user; as root its workers would become `nobody`, who cannot enter
    # pytest's private temporary directories
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/yecai.conf;
}}
""",
        encoding="utf-8",
    )
    return conf


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise AssertionError("nginx is not installed: apt-get install nginx-light (.ci/run does)")
    return found


def nginx_check(conf: Path) -> subprocess.CompletedProcess[str]:
    prefix = conf.parent
    return subprocess.run(
        [nginx_binary(), "-t", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )


class Nginx:
    """nginx in the foreground with the given main configuration, in a process group of its own."""

    def __init__(self, conf: Path) -> None:
        prefix = conf.parent
        self.log = (prefix / "nginx.out").open("wb")
        self.process = subprocess.Popen(
            [
                nginx_binary(),
                "-p",
                str(prefix),
                "-e",
                str(prefix / "error.log"),
                "-c",
                str(conf),
                "-g",
                "daemon off;",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: workers finish their requests
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        kill_group(self.process)
        self.log.close()


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything in its process group (its session, started apart)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def wait_https(client: httpx.Client, url: str, timeout: float = 60.0, *, status: int = 200) -> httpx.Response:
    """Poll `url` until it answers `status`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = client.get(url)
            if response.status_code == status:
                return response
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer {status} within {timeout} s (last: {last!r})")
