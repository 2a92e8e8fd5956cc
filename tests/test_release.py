"""scripts/release.py: the checks it makes before a package is released, and its build."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import typing
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "release.py"
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


def _load() -> typing.Any:
    spec = importlib.util.spec_from_file_location("release", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("release", module)
    spec.loader.exec_module(module)
    return module


if typing.TYPE_CHECKING:
    import release
else:
    release = _load()


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


def _version(dist: str, root: Path = ROOT) -> str:
    return release.find_packages(root)[dist].version()[0]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the script reads of each package (not the sources)."""
    for name in PACKAGES:
        source = ROOT / "packages" / name
        target = tmp_path / "packages" / name
        for path in (source / "pyproject.toml", source / "CHANGELOG.md"):
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / path.relative_to(source))
        for about in source.glob("src/*/__about__.py"):
            (target / about.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(about, target / about.relative_to(source))
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _set_version(repo: Path, dist: str, version: str) -> None:
    about = next((repo / "packages" / dist).glob("src/*/__about__.py"))
    about.write_text(f'__version__ = "{version}"\n', encoding="utf-8")


# --- versions and ranges -----------------------------------------------------------


@pytest.mark.parametrize(
    ("specifiers", "version", "admitted"),
    [
        (">=0.1,<0.2", "0.1.0", True),
        (">=0.1,<0.2", "0.1.9", True),
        (">=0.1,<0.2", "0.2.0", False),
        (">=0.1,<0.2", "0.0.9", False),
        (">=0.1,<0.2", "0.1.1+dev", True),  # a local label is ignored by ranges
        (">=0.1,<0.2", "0.2.0.dev1", False),  # a pre-release of the cap
        (">=0.1,<0.3", "0.2.0rc1", False),  # pre-releases only when the range names one
        (">=0.2.0rc1,<0.3", "0.2.0rc1", True),
        ("==0.1.*", "0.1.7", True),
        ("==0.1.*", "0.2.0", False),
        ("==0.1.0", "0.1", True),
        ("==0.1.0", "0.1.0+dev", True),
        ("!=0.1.0", "0.1.0", False),
        ("~=0.1", "0.9", True),
        ("~=0.1", "1.0", False),
        ("~=0.1.0", "0.1.5", True),
        ("~=0.1.0", "0.2.0", False),
        (">0.1.0", "0.1.0.post1", False),
        ("", "5.0", True),
    ],
)
def test_ranges(specifiers: str, version: str, admitted: bool) -> None:
    ok, why = release.admits(release.parse_specifiers(specifiers), release.Version.parse(version))
    assert ok is admitted
    assert bool(why) is not admitted


def test_version_order() -> None:
    ordered = ["0.1.0.dev1", "0.1.0a1", "0.1.0rc1", "0.1.0", "0.1.0+dev", "0.1.0.post1", "0.2"]
    versions = [release.Version.parse(v) for v in ordered]
    assert versions == sorted(versions)
    assert release.Version.parse("0.1") == release.Version.parse("0.1.0")
    with pytest.raises(ValueError, match="not a PEP 440 version"):
        release.Version.parse("0.1-final-final")


def test_requirement_parsing() -> None:
    requirement = release.parse_requirement("Netbackend_Base[x] >=0.1, <0.2 ; python_version>'3'")
    assert requirement.name == "netbackend-base"
    assert [str(s) for s in requirement.specifiers] == [">=0.1", "<0.2"]
    assert release.parse_requirement("foo @ https://example.org/foo.whl").url is not None


def test_changelog_sections() -> None:
    text = "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-12-05\n\n### Added\n- a\n- b\n"
    assert release.changelog_sections(text) == {"Unreleased": 0, "0.2.0": 2}


# --- the real packages -------------------------------------------------------------


@pytest.mark.parametrize("dist", PACKAGES)
def test_real_packages_pass_a_dry_run(dist: str) -> None:
    """Each package as it is in the repository: version, sibling ranges, changelog."""
    result = _run(dist, "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok  version {_version(dist)}" in result.stdout
    assert "FAIL" not in result.stdout
    assert "never uploads" in result.stdout
    if dist != "netbackend-base":
        base = _version("netbackend-base")
        assert f"netbackend-base>=0.1,<0.2 admits netbackend-base {base}" in result.stdout


def test_unknown_package_is_a_usage_error() -> None:
    result = _run("netbackend-nothing", "--dry-run")
    assert result.returncode == 2
    assert "no package 'netbackend-nothing'" in result.stderr
    assert "httptransport" in result.stderr  # the ones there are


# --- temporary copies, broken on purpose -------------------------------------------


def test_a_consistent_copy_is_released(repo: Path) -> None:
    result = _run("netbackend-mock", "--tag", "netbackend-mock-v0.1.0", "--root", repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tag 'netbackend-mock-v0.1.0' (from --tag) matches version 0.1.0" in result.stdout
    assert "Would upload" in result.stdout
    assert "netbackend_mock-0.1.0-py3-none-any.whl" in result.stdout


def test_a_sibling_range_that_excludes_the_sibling_is_refused(repo: Path) -> None:
    pyproject = repo / "packages" / "httptransport" / "pyproject.toml"
    _edit(pyproject, '"netbackend-base>=0.1,<0.2"', '"netbackend-base>=0.2,<0.3"')
    result = _run("httptransport", "--dry-run", "--root", repo)
    assert result.returncode == 1
    message = "the range netbackend-base>=0.2,<0.3 does not admit the current netbackend-base 0.1.0"
    assert message in result.stdout
    assert message in result.stderr
    assert "refusing to release httptransport 0.1.0" in result.stderr


def test_a_sibling_released_past_the_range_is_refused(repo: Path) -> None:
    _set_version(repo, "netbackend-base", "0.2.0")
    result = _run("netbackend-sync", "--dry-run", "--root", repo)
    assert result.returncode == 1
    assert "netbackend-base>=0.1,<0.2 does not admit the current netbackend-base 0.2.0" in (
        result.stderr
    )
    # Releasing the base itself is allowed, with a warning per dependant left behind.
    result = _run("netbackend-base", "--dry-run", "--root", repo)
    assert result.returncode == 0, result.stdout + result.stderr
    for dependant in set(PACKAGES) - {"netbackend-base"}:
        assert f"warn  {dependant} (dependencies) requires netbackend-base>=0.1,<0.2" in (
            result.stdout
        )


def test_a_dev_sibling_is_within_the_range(repo: Path) -> None:
    _set_version(repo, "netbackend-base", "0.1.1+dev")
    result = _run("httptransport", "--dry-run", "--root", repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "admits netbackend-base 0.1.1+dev" in result.stdout


def test_a_sibling_range_in_an_extra_is_checked(repo: Path) -> None:
    pyproject = repo / "packages" / "httptransport" / "pyproject.toml"
    _edit(pyproject, 'httpx = ["httpx>=0.27"]', 'httpx = ["httpx>=0.27", "netbackend-sync>=9"]')
    result = _run("httptransport", "--dry-run", "--root", repo)
    assert result.returncode == 1
    assert "extra 'httpx': the range netbackend-sync>=9 does not admit" in result.stdout


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (
            "netbackend-mock-v0.1.1",
            "tag 'netbackend-mock-v0.1.1' (from --tag) does not match version 0.1.0 of "
            "netbackend-mock: expected 'netbackend-mock-v0.1.0'",
        ),
        (
            "netbackend-base-v0.1.0",
            "tag 'netbackend-base-v0.1.0' (from --tag) is not a tag of netbackend-mock",
        ),
        ("v0.1.0", "tag 'v0.1.0' (from --tag) is not a tag of netbackend-mock"),
    ],
)
def test_a_mismatched_tag_is_refused(repo: Path, tag: str, message: str) -> None:
    result = _run("netbackend-mock", "--tag", tag, "--root", repo)
    assert result.returncode == 1
    assert message in result.stderr


def test_a_missing_changelog_section_is_refused(repo: Path) -> None:
    _set_version(repo, "netbackend-mock", "0.1.1")
    result = _run("netbackend-mock", "--tag", "netbackend-mock-v0.1.1", "--root", repo)
    assert result.returncode == 1
    assert "changelog: CHANGELOG.md has no section [0.1.1]" in result.stderr
    # While preparing the release, [Unreleased] entries will do.
    result = _run("netbackend-mock", "--dry-run", "--root", repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[Unreleased] has" in result.stdout
    # Once its section is there, the release goes ahead.
    changelog = repo / "packages" / "netbackend-mock" / "CHANGELOG.md"
    _edit(changelog, "## [Unreleased]\n", "## [Unreleased]\n\n## [0.1.1] - 2026-12-05\n")
    result = _run("netbackend-mock", "--tag", "netbackend-mock-v0.1.1", "--root", repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_dry_run_needs_unreleased_entries(repo: Path) -> None:
    _set_version(repo, "netbackend-trio", "0.1.1")
    changelog = repo / "packages" / "netbackend-trio" / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n## [0.1.0]\n\n- First.\n")
    result = _run("netbackend-trio", "--dry-run", "--root", repo)
    assert result.returncode == 1
    assert "no section [0.1.1] and no [Unreleased] entries" in result.stderr


def test_the_tag_comes_from_git(repo: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")

    def run_git(*args: str) -> None:
        subprocess.run(
            [git, "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )

    run_git("init", "-q")
    run_git("add", ".")
    run_git("commit", "-q", "-m", "release")
    result = _run("netbackend-mock", "--root", repo)
    assert result.returncode == 1
    assert "HEAD has no tag netbackend-mock-v*" in result.stderr

    run_git("tag", "netbackend-base-v0.1.0")  # another package's tag on the same commit
    run_git("tag", "netbackend-mock-v0.1.0")
    result = _run("netbackend-mock", "--root", repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tag 'netbackend-mock-v0.1.0' (on HEAD) matches version 0.1.0" in result.stdout
    assert "packages/netbackend-mock/ is clean" in result.stdout

    (repo / "packages" / "netbackend-mock" / "stray.py").write_text("")
    result = _run("netbackend-mock", "--root", repo)
    assert result.returncode == 1
    assert "uncommitted or untracked paths under packages/netbackend-mock/" in result.stderr


# --- the wheel checks and the build ------------------------------------------------


def _wheel(path: Path, version: str, files: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            f"netbackend_mock-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.4\nName: netbackend-mock\nVersion: {version}\n",
        )
        for name in files:
            archive.writestr(name, "")
    return path


def test_wheel_checks(tmp_path: Path) -> None:
    package = release.find_packages(ROOT)["netbackend-mock"]
    good = _wheel(tmp_path / "good.whl", "0.1.0", ["netbackend_mock/py.typed"])
    report = release.Report()
    release.check_wheel(report, package, "0.1.0", good)
    assert report.failures == []

    bad = _wheel(tmp_path / "bad.whl", "0.0.9", ["netbackend_mock/__init__.py"])
    report = release.Report()
    release.check_wheel(report, package, "0.1.0", bad)
    assert report.failures == [
        "wheel: METADATA says netbackend-mock 0.0.9, expected netbackend-mock 0.1.0",
        "wheel: netbackend_mock/py.typed is missing from bad.whl",
    ]


# A build does not depend on the matrix cell: only in the default one (tests/conftest.py).
@pytest.mark.heavy
@pytest.mark.skipif(shutil.which("hatch") is None, reason="hatch is not on PATH")
def test_build_one_package(tmp_path: Path) -> None:
    """--build: hatch builds netbackend-mock; sdist and wheel are checked, into a temp dir."""
    folder = ROOT / "packages" / "netbackend-mock"
    had_dist = (folder / "dist").exists()
    version = _version("netbackend-mock")
    result = _run("netbackend-mock", "--dry-run", "--build", "--dist-dir", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    built = sorted(p.name for p in tmp_path.iterdir())
    assert built == [
        f"netbackend_mock-{version}-py3-none-any.whl",
        f"netbackend_mock-{version}.tar.gz",
    ]
    assert f"ok  wheel: METADATA says netbackend-mock {version}" in result.stdout
    assert "ok  wheel: contains netbackend_mock/py.typed" in result.stdout
    assert f"ok  sdist: PKG-INFO says netbackend-mock {version}" in result.stdout
    for name in built:
        assert str(tmp_path / name) in result.stdout  # listed under "Would upload"
    assert (folder / "dist").exists() is had_dist
