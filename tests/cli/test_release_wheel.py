"""The release: the built wheel carries every file the code reads and runs the demo on its own.

Builds the wheel from this checkout (`python -m build --no-isolation`: no network; setuptools-scm
gives the version from the git tag, or a dev version in a clone without tags), installs it with
`--no-deps` into a fresh virtual environment whose dependencies are the running environment's
(a .pth file; nothing downloaded), and runs `yecai --version` and `yecai demo` there — checking
that the yecai that runs is the wheel's, not this checkout. The wheel's file list is compared with
the source tree, so a new kind of asset left out of the package data fails here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "yecai"
# what a copy of the tree to build from leaves out: git, environments, caches, earlier builds, state
NOT_SOURCE = (
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".yecai*",
)


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def source_files() -> set[str]:
    """Every file under yecai/ the package may read: all but Python sources and their caches."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".py", ".pyc")
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [name for name in ("build", "setuptools_scm") if importlib.util.find_spec(name) is None]
    if missing:  # a failure, not a skip: the release must be tested wherever the suite runs
        pytest.fail(f"the dev extra is not installed (missing {missing}): pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The version as a build of this checkout gets it from git (read only), then the build runs on a
    # copy of the tree: building in the checkout would leave yecai.egg-info there, which every later
    # import of `yecai` from the checkout would take as its metadata. The copy has no git, so the
    # wheel holds what [tool.setuptools.package-data] names, not what git happens to track: stricter.
    version = _run(
        [
            sys.executable,
            "-c",
            f"import setuptools_scm; print(setuptools_scm.get_version(root={str(ROOT)!r}, fallback_version='0.0.0+unknown'))",
        ],
        cwd=ROOT,
        env=env,
    ).strip()
    tree = out / "src"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    env["SETUPTOOLS_SCM_PRETEND_VERSION"] = version
    # no --wheel/--sdist: build makes the sdist, then the wheel from the unpacked sdist, so a file
    # the sdist forgot is missing from the wheel too
    _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(tree)], cwd=tree, env=env
    )
    (sdist,) = out.glob("yecai-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert f"yecai-{version}/pyproject.toml" in names
    assert f"yecai-{version}/yecai/store/migrations/script.py.mako" in names
    (built,) = out.glob("yecai-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_carries_assets_templates_migrations_and_connector_yaml(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    # by kind, the files the code reads at run time
    assert "yecai/store/migrations/env.py" in names
    assert "yecai/store/migrations/script.py.mako" in names
    assert {
        f"yecai/store/migrations/versions/{p.name}"
        for p in (PACKAGE / "store/migrations/versions").glob("*.py")
    } <= names
    assert any(n.startswith("yecai/web/console/static/vendor/") and n.endswith(".js") for n in names)
    assert any(n.startswith("yecai/web/console/static/") and n.endswith(".css") for n in names)
    assert any(n.startswith("yecai/web/console/templates/") and n.endswith(".html") for n in names)
    assert any(n.startswith("yecai/reports/templates/") and n.endswith(".html") for n in names)
    assert any(n.startswith("yecai/connectors/") and n.endswith(".yaml") for n in names)
    # and against the tree: every non-Python file under yecai/ is in the wheel, whatever its kind
    missing = sorted(source_files() - names)
    assert not missing, f"not in the wheel (add them to [tool.setuptools.package-data]): {missing}"
    # the version is in the wheel's name and metadata, not a number written in the code
    version = wheel.name.split("-")[1]
    assert version[0].isdigit()
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"yecai-{version}.dist-info/METADATA").decode()
    assert f"Version: {version}" in metadata
    assert "Provides-Extra: server" in metadata
    assert "Provides-Extra: dev" in metadata


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_demo(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    # the wheel alone, nothing from an index (no network in tests)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ],
        cwd=tmp_path,
        env=env,
    )
    # the dependencies: the running environment's site-packages, after the fresh venv's own. A
    # directory named in a .pth file is only appended to sys.path (its own .pth files, such as the
    # editable install's finder, are not run), so the checkout's yecai cannot come in that way.
    fresh = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path,
            env=env,
        ).strip()
    )
    ours = {sysconfig.get_paths()["purelib"], *(p for p in sys.path if p.endswith("site-packages"))}
    (fresh / "zz_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")

    where = _run(
        [str(python), "-c", "import yecai; print(yecai.__file__, yecai.__version__)"], cwd=tmp_path, env=env
    )
    file, version = where.split()
    assert Path(file).resolve().is_relative_to(venv.resolve()), file  # the wheel's yecai, not the checkout
    assert version == wheel.name.split("-")[1]

    yecai = str(venv / "bin" / "yecai")
    assert _run([yecai, "--version"], cwd=tmp_path, env=env).strip() == f"yecai {version}"

    work = tmp_path / "work"
    work.mkdir()
    demo_env = {**env, "COLUMNS": "200"}
    ports = ["--pm-port", str(_free_port()), "--kingdee-port", str(_free_port())]
    shown = _run([yecai, "demo", "--projects", "2", *ports], cwd=work, env=demo_env)
    assert "差额" in shown  # the summary: cost vouchers against the source total
    assert (work / ".yecai-demo" / "yecai.sqlite").is_file()  # migrations ran from the wheel
    # a command that reads a template and the schema from the installed package
    checked = subprocess.run(
        [yecai, "db", "check"], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_the_base_cli_runs_without_the_server_extra(tmp_path: Path) -> None:
    """The server extra's modules hidden: the CLI imports, a base command runs, `serve` says what to install."""
    hide = tmp_path / "hide"
    hide.mkdir()
    # a sitecustomize that makes the server extra's own packages not found, as if never installed:
    # the path finder is swapped for one that does not see them (find_spec gives None, import fails)
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "from importlib.machinery import PathFinder\n"
        "HIDDEN = {'python_multipart', 'multipart', 'limits', 'uvloop', 'httptools'}\n"
        "class WithoutServerExtra(PathFinder):\n"
        "    @classmethod\n"
        "    def find_spec(cls, name, path=None, target=None):\n"
        "        if name.split('.')[0] in HIDDEN:\n"
        "            return None\n"
        "        return PathFinder.find_spec(name, path, target)\n"
        "sys.meta_path[:] = [WithoutServerExtra if f is PathFinder else f for f in sys.meta_path]\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": f"{hide}{os.pathsep}{ROOT}", "COLUMNS": "200"}
    cli = [sys.executable, "-m", "yecai.cli.main"]
    probe = subprocess.run(
        [sys.executable, "-c", "import limits"], env=env, capture_output=True, text=True, check=False
    )
    assert probe.returncode != 0  # the extra really is hidden
    shown = _run([*cli, "--help"], cwd=tmp_path, env=env)
    assert "serve" in shown
    assert "db" in shown
    url = f"sqlite:///{tmp_path / 'yecai.sqlite'}"
    _run([*cli, "db", "upgrade", "--database-url", url], cwd=tmp_path, env=env)
    refused = subprocess.run(
        [*cli, "serve", "--database-url", url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "需要安装 yecai[server]" in refused.stdout
    assert "pip install 'yecai[server]'" in refused.stdout
    assert "python-multipart" in refused.stdout
