"""Each package under packages/ is a self-contained distribution with honest metadata."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
SIBLINGS = {p.name for p in PACKAGES}

# Import name -> distribution name, where they differ from the import name.
DIST_OF = {name.replace("-", "_"): name for name in SIBLINGS}


def _pyproject(package: Path) -> dict[str, object]:
    with (package / "pyproject.toml").open("rb") as f:
        data: dict[str, object] = tomllib.load(f)
    return data


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def _imported_top_level(package: Path) -> set[str]:
    """Top-level modules that a package's source imports outside TYPE_CHECKING blocks."""
    found: set[str] = set()
    for source in (package / "src").rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        type_checking_nodes: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                type_checking_nodes.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if id(node) in type_checking_nodes:
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names}


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_declared_dependencies_match_imports(package: Path) -> None:
    """A package's required dependencies are exactly the third-party modules it imports."""
    project = _pyproject(package)["project"]
    assert isinstance(project, dict)
    declared = {_requirement_name(r) for r in project.get("dependencies", [])}
    optional = {
        _requirement_name(r)
        for reqs in project.get("optional-dependencies", {}).values()
        for r in reqs
    }
    own = package.name.replace("-", "_")
    imported = {
        DIST_OF.get(name, name).lower().replace("_", "-")
        for name in _imported_top_level(package)
        if name != own
    }
    # Optional extras may be imported lazily; everything else must be declared, and every
    # declared requirement must really be used.
    assert imported - optional == declared


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_siblings_are_ranges_never_pins(package: Path) -> None:
    """Dependencies on sibling packages carry a floor and a cap, never an exact pin."""
    project = _pyproject(package)["project"]
    assert isinstance(project, dict)
    for requirement in project.get("dependencies", []):
        if _requirement_name(requirement) in SIBLINGS:
            assert "==" not in requirement
            assert ">=" in requirement, requirement
            assert "<" in requirement.replace("<=", ""), requirement


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_layout_and_single_version_source(package: Path) -> None:
    """Every package ships README, LICENSE, CHANGELOG, py.typed, and versions from __about__."""
    import_name = package.name.replace("-", "_")
    for name in ("README.md", "LICENSE", "CHANGELOG.md"):
        assert (package / name).is_file(), name
    src = package / "src" / import_name
    assert (src / "py.typed").is_file()
    about = (src / "__about__.py").read_text(encoding="utf-8")
    assert re.fullmatch(r'__version__ = "\d+\.\d+\.\d+"\n', about)
    pyproject = _pyproject(package)
    project = pyproject["project"]
    assert isinstance(project, dict)
    assert "version" not in project
    assert project["dynamic"] == ["version"]
    tool = pyproject["tool"]
    assert isinstance(tool, dict)
    assert tool["hatch"]["version"]["path"] == f"src/{import_name}/__about__.py"
