"""Every package folder of tfinterp is listed in pyproject.toml (a non-editable install ships
only the listed packages, so a missing entry breaks users' installs, not the editable one here)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _package_dirs():
    found = {"tfinterp.cli"} if (ROOT / "cli" / "__init__.py").is_file() else set()
    for init in (ROOT / "tfinterp").rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        found.add(".".join(rel.parts))
    return found


def test_every_package_is_listed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    dirs = _package_dirs()
    assert "tfinterp.ops" in dirs and "tfinterp.cli" in dirs  # the walk itself finds packages
    assert dirs - listed == set(), f"add to pyproject.toml [tool.setuptools] packages: {sorted(dirs - listed)}"
    assert listed - dirs == set(), f"listed but not a package folder: {sorted(listed - dirs)}"
