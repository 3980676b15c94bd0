"""The wheel installs one top-level package, ``dotsync``.

``flows/``, ``tasks/``, ``data_contracts/`` and ``deployments/`` are folders of the checkout
but install as ``dotsync.flows`` and so on (pyproject's ``package-dir``), so nothing named
``flows`` or ``tasks`` lands in site-packages, where it would shadow, or be shadowed by,
another Prefect project's own. The wheel is built from a copy of the sources, as ``pip
install .`` would; the test is skipped only when the build backend pyproject asks for is
neither installed nor obtainable (an offline machine without it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
#: Folder of the checkout -> where it is installed.
FOLDERS = {"dotsync": "dotsync", "flows": "dotsync/flows", "tasks": "dotsync/tasks",
           "data_contracts": "dotsync/data_contracts", "deployments": "dotsync/deployments"}
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
METADATA_FILES = r"pyproject\.toml|README.*|LICEN[CS]E.*|COPYING.*|NOTICE.*|AUTHORS.*"


def _backend_installed(pyproject: dict) -> bool:
    """Whether this environment already has what ``build-system.requires`` asks for."""
    for requirement in map(Requirement, pyproject["build-system"]["requires"]):
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(version, prereleases=True):
            return False
    return True


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    source = tmp_path_factory.mktemp("source")
    out = tmp_path_factory.mktemp("wheel")
    for path in ROOT.iterdir():  # pyproject.toml, the readme, any licence file
        if path.is_file() and re.fullmatch(METADATA_FILES, path.name):
            shutil.copy2(path, source / path.name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, source / folder, ignore=IGNORE)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
               "--disable-pip-version-check", "-w", str(out), str(source)]
    if _backend_installed(pyproject):
        command.insert(4, "--no-build-isolation")
    built = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if built.returncode != 0:
        output = built.stdout + built.stderr
        if "--no-build-isolation" not in command and "build dependencies" in output:
            pytest.skip("the build backend is neither installed nor obtainable: "
                        + output.strip().splitlines()[-1])
        pytest.fail(f"building the wheel failed:\n{output}")
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


def test_the_only_top_level_package_is_dotsync(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert len(dist_info) == 1 and next(iter(dist_info)).startswith("dotsync-")
    assert tops - dist_info == {"dotsync"}


def test_every_module_of_the_checkout_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    """A sub-package missing from pyproject's package list fails here, naming it."""
    names = set(wheel.namelist())
    missing = sorted(
        f"{folder}/{path.relative_to(ROOT / folder).as_posix()}"
        for folder, installed in FOLDERS.items()
        for path in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
        and f"{installed}/{path.relative_to(ROOT / folder).as_posix()}" not in names)
    assert missing == [], f"add their packages to pyproject's [tool.setuptools]: {missing}"


def test_the_command_is_the_namespaced_cli(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "dotsync = dotsync.deployments.cli:main" in text
