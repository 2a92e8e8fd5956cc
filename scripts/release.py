"""Check, and optionally build, one package of the monorepo for release. Never uploads.

Usage::

    python scripts/release.py <dist-name> [--tag TAG] [--build] [--dry-run]
                              [--dist-dir DIR] [--root DIR]

Checks, in order (each printed as ``ok``, ``warn`` or ``FAIL``):

1. the version, read as ``hatch version`` reads it: ``[tool.hatch.version] path`` with
   hatchling's default pattern (``__version__ = "..."``) or the configured ``pattern``;
2. the tag: ``--tag``, or else the tag on ``HEAD`` named ``<dist-name>-v<version>``
   (``git tag --points-at HEAD``: one commit may carry the tags of several packages,
   where ``git describe --exact-match`` would show only one of them). It must be exactly
   ``<dist-name>-v<version>``, e.g. ``httptransport-v0.1.0``. With ``--dry-run`` a missing
   tag is only a warning (the release is being prepared);
3. every dependency on a sibling package (required and extras) admits that sibling's
   current version in the repository: ``netbackend-base>=0.1,<0.2`` needs the repository's
   netbackend-base to be 0.1.x. Siblings whose range would not admit the new version are
   reported as warnings (they need a release too);
4. ``CHANGELOG.md`` has a section for the version (``## [0.1.0]``, a date may follow);
   with ``--dry-run`` an ``[Unreleased]`` section with entries will do;
5. no uncommitted or untracked files under the package's folder (a warning with
   ``--dry-run``; not checked outside a git work tree);
6. with ``--build``: ``hatch build`` inside the package's folder (sdist and wheel),
   collected into ``--dist-dir`` (default ``packages/<dist>/dist/``, git-ignored), the
   wheel's ``METADATA`` name and version and the sdist's ``PKG-INFO`` version checked,
   and ``<import name>/py.typed`` present in the wheel.

It ends by printing what would be uploaded, and how; it never uploads anything itself.
Exit status: 0 all checks passed, 1 a check failed (the release is refused), 2 usage
error (unknown package, bad arguments).

Standard library only, so that it runs under any Python 3.10+ without an environment
(on 3.10 it needs ``tomli``, as the tests do). Version specifiers are checked by the
small PEP 440 implementation below rather than by ``packaging``, which not every
environment that runs this script has: it covers what the packages' ranges use
(``>=``, ``<``, ``<=``, ``>``, ``==`` with or without ``.*``, ``!=``, ``~=``, ``===``),
including PEP 440's rules for pre-releases (not admitted unless the range names one,
as pip does) and local versions (``0.1.0+dev`` is within ``>=0.1,<0.2``).
"""

from __future__ import annotations

import argparse
import dataclasses
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import typing
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = (
    "Package",
    "Requirement",
    "Specifier",
    "Version",
    "admits",
    "changelog_sections",
    "find_packages",
    "main",
    "parse_requirement",
    "parse_specifiers",
)

ROOT = Path(__file__).resolve().parent.parent
# hatchling's default pattern for the regex version source.
HATCH_VERSION_PATTERN = r"""(?i)^(__version__|VERSION) *= *(['"])v?(?P<version>.+?)\2"""


class ReleaseError(Exception):
    """A usage or repository-layout problem: the checks cannot even start."""


# --- PEP 440 versions --------------------------------------------------------------

_VERSION = re.compile(
    r"""
    v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?:[-_.]?(?P<pre_l>alpha|beta|preview|pre|rc|a|b|c)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?:-(?P<post_n1>[0-9]+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_PRE_NAMES = {
    "a": "a",
    "alpha": "a",
    "b": "b",
    "beta": "b",
    "c": "rc",
    "rc": "rc",
    "pre": "rc",
    "preview": "rc",
}
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}

_Key = tuple[typing.Any, ...]


@dataclasses.dataclass(frozen=True)
class Version:
    """A PEP 440 version, ordered as PEP 440 orders versions."""

    epoch: int
    release: tuple[int, ...]
    pre: tuple[str, int] | None = None
    post: int | None = None
    dev: int | None = None
    local: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``text``; raise ``ValueError`` when it is not a PEP 440 version."""
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a PEP 440 version: {text!r}")
        pre = None
        if match["pre_l"]:
            pre = (_PRE_NAMES[match["pre_l"].lower()], int(match["pre_n"] or 0))
        post = None
        if match["post_n1"]:
            post = int(match["post_n1"])
        elif match["post_l"]:
            post = int(match["post_n2"] or 0)
        dev = int(match["dev_n"] or 0) if match["dev_l"] else None
        local = tuple(re.split(r"[-_.]", match["local"].lower())) if match["local"] else None
        return cls(
            epoch=int(match["epoch"] or 0),
            release=tuple(int(part) for part in match["release"].split(".")),
            pre=pre,
            post=post,
            dev=dev,
            local=local,
        )

    def __str__(self) -> str:
        text = f"{self.epoch}!" if self.epoch else ""
        text += ".".join(str(part) for part in self.release)
        if self.pre is not None:
            text += f"{self.pre[0]}{self.pre[1]}"
        if self.post is not None:
            text += f".post{self.post}"
        if self.dev is not None:
            text += f".dev{self.dev}"
        if self.local is not None:
            text += "+" + ".".join(self.local)
        return text

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    @property
    def public(self) -> Version:
        """This version without its local label."""
        return dataclasses.replace(self, local=None)

    @property
    def base(self) -> Version:
        """Epoch and release only (``1.2.0rc1.post3+x`` -> ``1.2.0``)."""
        return Version(self.epoch, self.release)

    def key(self) -> _Key:
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()  # 1.0 == 1.0.0
        if self.pre is not None:
            pre: _Key = (0, _PRE_RANK[self.pre[0]], self.pre[1])
        elif self.post is None and self.dev is not None:
            pre = (-1,)  # 1.0.dev0 sorts before 1.0a0
        else:
            pre = (1,)
        post: _Key = (-1,) if self.post is None else (0, self.post)
        dev: _Key = (1,) if self.dev is None else (0, self.dev)
        local: _Key = ()
        if self.local is not None:
            local = tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in self.local)
        return (self.epoch, tuple(release), pre, post, dev, local)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __lt__(self, other: Version) -> bool:
        return self.key() < other.key()

    def __le__(self, other: Version) -> bool:
        return self.key() <= other.key()

    def __gt__(self, other: Version) -> bool:
        return self.key() > other.key()

    def __ge__(self, other: Version) -> bool:
        return self.key() >= other.key()


# --- PEP 440 specifiers ------------------------------------------------------------

_SPECIFIER = re.compile(r"\s*(?P<op>~=|===|==|!=|<=|>=|<|>)\s*(?P<version>[^\s,;]+)\s*")


@dataclasses.dataclass(frozen=True)
class Specifier:
    """One clause of a version range, such as ``>=0.1`` or ``==1.2.*``."""

    op: str
    version: str

    def __str__(self) -> str:
        return f"{self.op}{self.version}"

    @property
    def names_prerelease(self) -> bool:
        """Whether the clause itself names a pre-release (then pre-releases are admitted)."""
        if self.op == "===" or self.version.endswith(".*"):
            return False
        return Version.parse(self.version).is_prerelease

    def contains(self, candidate: Version) -> bool:
        """Whether ``candidate`` satisfies this clause (pre-release policy aside)."""
        op, text = self.op, self.version
        if op == "===":
            return str(candidate) == text.strip()
        if op in ("==", "!=") and text.endswith(".*"):
            prefix = Version.parse(text[:-2])
            if prefix.pre or prefix.post is not None or prefix.dev is not None:
                raise ValueError(f"unsupported prefix match: {self}")
            n = len(prefix.release)
            padded = candidate.release + (0,) * max(0, n - len(candidate.release))
            matched = candidate.epoch == prefix.epoch and padded[:n] == prefix.release
            return matched if op == "==" else not matched
        spec = Version.parse(text)
        if op in ("==", "!="):
            # A specifier without a local label ignores the candidate's.
            matched = (candidate if spec.local is not None else candidate.public) == spec
            return matched if op == "==" else not matched
        if op == ">=":
            return candidate.public >= spec
        if op == "<=":
            return candidate.public <= spec
        if op == "<":
            if not candidate < spec:
                return False
            # <0.2 does not admit 0.2.0rc1, unless the bound is itself a pre-release.
            return spec.is_prerelease or not (
                candidate.is_prerelease and candidate.base == spec.base
            )
        if op == ">":
            if not candidate > spec:
                return False
            if spec.post is None and candidate.post is not None and candidate.base == spec.base:
                return False  # >1.0 does not admit 1.0.post1
            return not (candidate.local is not None and candidate.base == spec.base)
        if op == "~=":
            if len(spec.release) < 2:
                raise ValueError(f"~= needs at least two release numbers: {self}")
            epoch = f"{spec.epoch}!" if spec.epoch else ""
            stem = Specifier("==", epoch + ".".join(map(str, spec.release[:-1])) + ".*")
            return Specifier(">=", text).contains(candidate) and stem.contains(candidate)
        raise ValueError(f"unknown operator: {self}")  # pragma: no cover - regex-bound


def parse_specifiers(text: str) -> list[Specifier]:
    """``">=0.1,<0.2"`` -> its clauses; an empty string is the empty (any) range."""
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    if not text.strip():
        return []
    clauses = []
    for part in text.split(","):
        match = _SPECIFIER.fullmatch(part)
        if match is None:
            raise ValueError(f"not a version specifier: {part.strip()!r}")
        clause = Specifier(match["op"], match["version"])
        if clause.op != "===" and not clause.version.endswith(".*"):
            Version.parse(clause.version)  # reject garbage early
        clauses.append(clause)
    return clauses


def admits(specifiers: list[Specifier], version: Version) -> tuple[bool, str]:
    """Whether a range admits ``version`` as an installer would, and if not, why."""
    for clause in specifiers:
        if not clause.contains(version):
            return False, f"{version} fails {clause}"
    if version.is_prerelease and not any(c.names_prerelease for c in specifiers):
        return False, (
            f"{version} is a pre-release, which installers skip unless the range names one"
        )
    return True, ""


# --- requirements and packages -----------------------------------------------------

_REQUIREMENT = re.compile(
    r"\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?:\[(?P<extras>[^\]]*)\])?\s*(?P<rest>.*)",
    re.DOTALL,
)


def normalize(name: str) -> str:
    """PEP 503 name normalization: ``Netbackend_Base`` -> ``netbackend-base``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclasses.dataclass(frozen=True)
class Requirement:
    """A dependency line of ``pyproject.toml``, enough of PEP 508 for a range check."""

    text: str
    name: str
    specifiers: list[Specifier]
    url: str | None = None


def parse_requirement(text: str) -> Requirement:
    """Parse ``"netbackend-base>=0.1,<0.2; python_version >= '3.10'"`` (marker ignored)."""
    match = _REQUIREMENT.fullmatch(text)
    if match is None:
        raise ValueError(f"not a requirement: {text!r}")
    rest = match["rest"].strip()
    if rest.startswith("@"):
        return Requirement(text, normalize(match["name"]), [], url=rest[1:].split(";")[0].strip())
    return Requirement(text, normalize(match["name"]), parse_specifiers(rest.split(";")[0]))


@dataclasses.dataclass
class Package:
    """One distribution under ``packages/``."""

    name: str  # normalized distribution name
    folder: Path
    pyproject: dict[str, typing.Any]

    @property
    def project(self) -> dict[str, typing.Any]:
        project = self.pyproject.get("project", {})
        assert isinstance(project, dict)
        return project

    @property
    def import_name(self) -> str:
        wheel = self.pyproject.get("tool", {}).get("hatch", {}).get("build", {})
        packages = wheel.get("targets", {}).get("wheel", {}).get("packages", [])
        if packages:
            return str(packages[0]).rstrip("/").rsplit("/", 1)[-1]
        return self.name.replace("-", "_")

    def version(self) -> tuple[str, str]:
        """The version as ``hatch version`` reports it, and where it was read."""
        if "version" in self.project:
            return str(self.project["version"]), "pyproject.toml [project] version"
        config = self.pyproject.get("tool", {}).get("hatch", {}).get("version", {})
        if config.get("source", "regex") != "regex" or "path" not in config:
            raise ReleaseError(
                f"{self.name}: only [tool.hatch.version] path = ... (the regex source) is supported"
            )
        path = self.folder / config["path"]
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ReleaseError(f"{self.name}: cannot read {path}: {exc}") from exc
        match = re.search(config.get("pattern", HATCH_VERSION_PATTERN), text, re.MULTILINE)
        if match is None:
            raise ReleaseError(f"{self.name}: no version found in {config['path']}")
        return match["version"], config["path"]

    def requirements(self) -> list[tuple[str, Requirement]]:
        """(where, requirement) for the dependencies and every extra's."""
        found = [
            ("dependencies", parse_requirement(r)) for r in self.project.get("dependencies", [])
        ]
        for extra, requirements in self.project.get("optional-dependencies", {}).items():
            found += [(f"extra {extra!r}", parse_requirement(r)) for r in requirements]
        return found


def find_packages(root: Path) -> dict[str, Package]:
    """Every distribution under ``root/packages/``, by normalized name."""
    found = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        with pyproject.open("rb") as f:
            data = tomllib.load(f)
        name = normalize(str(data.get("project", {}).get("name", pyproject.parent.name)))
        found[name] = Package(name, pyproject.parent, data)
    return found


# --- changelog ---------------------------------------------------------------------

_HEADING = re.compile(r"^##\s+\[?(?P<name>[^\]\s]+)\]?(?P<rest>.*)$")
_ENTRY = re.compile(r"^\s*[-*]\s+\S")


def changelog_sections(text: str) -> dict[str, int]:
    """Each ``## `` section's name (``Unreleased``, ``0.1.0``) -> its number of entries."""
    sections: dict[str, int] = {}
    current = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading is not None:
            current = heading["name"]
            sections.setdefault(current, 0)
        elif current is not None and _ENTRY.match(line):
            sections[current] += 1
    return sections


# --- git ---------------------------------------------------------------------------


def _git(root: Path, *args: str) -> str | None:
    """The output of ``git args`` in ``root`` when ``root`` is the top of a work tree."""
    git = shutil.which("git")
    if git is None:
        return None

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [git, "-C", str(root), *argv], capture_output=True, text=True, check=False
        )

    top = run("rev-parse", "--show-toplevel")
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root.resolve():
        return None  # not a repository, or root lies inside another one
    result = run(*args)
    return result.stdout if result.returncode == 0 else None


# --- the checks --------------------------------------------------------------------


class Report:
    """The checks' lines, printed as they come; failures counted."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def ok(self, message: str) -> None:
        print(f"  ok  {message}", flush=True)

    def warn(self, message: str) -> None:
        print(f"warn  {message}", flush=True)

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"FAIL  {message}", flush=True)


def check_tag(
    report: Report, package: Package, version: str, tag: str | None, root: Path, dry_run: bool
) -> None:
    expected = f"{package.name}-v{version}"
    if tag is None:
        tags = (_git(root, "tag", "--points-at", "HEAD") or "").split()
        mine = [t for t in tags if t.startswith(f"{package.name}-v")]
        if len(mine) > 1:
            report.fail(f"tag: HEAD carries several tags for {package.name}: {', '.join(mine)}")
            return
        if not mine:
            message = f"tag: HEAD has no tag {package.name}-v*; the release needs tag {expected!r}"
            (report.warn if dry_run else report.fail)(message)
            return
        tag, source = mine[0], "on HEAD"
    else:
        source = "from --tag"
    if tag == expected:
        report.ok(f"tag {tag!r} ({source}) matches version {version}")
    elif not tag.startswith(f"{package.name}-v"):
        report.fail(f"tag {tag!r} ({source}) is not a tag of {package.name}: expected {expected!r}")
    else:
        report.fail(
            f"tag {tag!r} ({source}) does not match version {version} of {package.name}: "
            f"expected {expected!r}"
        )


def check_siblings(
    report: Report, package: Package, version: str, packages: dict[str, Package]
) -> None:
    checked = 0
    for where, requirement in package.requirements():
        sibling = packages.get(requirement.name)
        if sibling is None or sibling is package:
            continue
        checked += 1
        current, _ = sibling.version()
        if requirement.url is not None:
            report.fail(f"{package.name} {where}: {requirement.text!r} is a direct reference")
            continue
        ok, why = admits(requirement.specifiers, Version.parse(current))
        spec = ",".join(map(str, requirement.specifiers)) or "(any version)"
        if ok:
            report.ok(f"{where}: {requirement.name}{spec} admits {requirement.name} {current}")
        else:
            report.fail(
                f"{where}: the range {requirement.name}{spec} does not admit the current "
                f"{requirement.name} {current} ({why}); change the range or release "
                f"{requirement.name} first"
            )
    if not checked:
        report.ok("siblings: depends on no sibling package")
    # The other way round: siblings that could not be installed beside this release.
    for other in packages.values():
        if other is package:
            continue
        for where, requirement in other.requirements():
            if requirement.name != package.name or requirement.url is not None:
                continue
            ok, why = admits(requirement.specifiers, Version.parse(version))
            if not ok:
                spec = ",".join(map(str, requirement.specifiers))
                report.warn(
                    f"{other.name} ({where}) requires {package.name}{spec}, which does not "
                    f"admit {version} ({why}): {other.name} needs a release too"
                )


def check_changelog(report: Report, package: Package, version: str, dry_run: bool) -> None:
    path = package.folder / "CHANGELOG.md"
    try:
        sections = changelog_sections(path.read_text(encoding="utf-8"))
    except OSError as exc:
        report.fail(f"changelog: cannot read {path.name}: {exc}")
        return
    unreleased = next((n for name, n in sections.items() if name.lower() == "unreleased"), 0)
    if version in sections:
        report.ok(
            f"changelog: CHANGELOG.md has a section [{version}] ({sections[version]} entries)"
        )
        if unreleased:
            report.warn(
                f"changelog: [Unreleased] still lists {unreleased} entries, which are not in "
                f"{version}: move them under a new version to release them"
            )
    elif dry_run and unreleased:
        report.ok(
            f"changelog: no section [{version}] yet; [Unreleased] has {unreleased} entries "
            f"to move under [{version}] before tagging"
        )
    elif dry_run:
        report.fail(
            f"changelog: CHANGELOG.md has no section [{version}] and no [Unreleased] entries"
        )
    else:
        report.fail(f"changelog: CHANGELOG.md has no section [{version}]")


def check_clean(report: Report, package: Package, root: Path, dry_run: bool) -> None:
    relative = package.folder.resolve().relative_to(root.resolve()).as_posix()
    status = _git(root, "status", "--porcelain", "--", relative)
    if status is None:
        report.warn(f"work tree: {root} is not the top of a git work tree; not checked")
    elif status.strip():
        changed = len(status.strip().splitlines())
        message = f"work tree: {changed} uncommitted or untracked paths under {relative}/"
        (report.warn if dry_run else report.fail)(message)
    else:
        report.ok(f"work tree: {relative}/ is clean")


def build(report: Report, package: Package, version: str, dist_dir: Path) -> list[Path]:
    """``hatch build`` in the package's folder; the artifacts, checked, in ``dist_dir``."""
    hatch = shutil.which("hatch")
    if hatch is None:
        report.fail("build: hatch is not on PATH (python3 -m pip install hatch)")
        return []
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATCH_ENV_")}
    with tempfile.TemporaryDirectory(prefix="release-") as staging:
        result = subprocess.run(
            [hatch, "build", "-t", "sdist", "-t", "wheel", staging],
            cwd=package.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            report.fail(
                f"build: hatch build failed ({result.returncode}):\n{result.stderr}{result.stdout}"
            )
            return []
        built = sorted(Path(staging).iterdir())
        wheels = [p for p in built if p.name.endswith(".whl")]
        sdists = [p for p in built if p.name.endswith(".tar.gz")]
        if len(wheels) != 1 or len(sdists) != 1:
            report.fail(f"build: expected one sdist and one wheel, got {[p.name for p in built]}")
            return []
        check_wheel(report, package, version, wheels[0])
        check_sdist(report, package, version, sdists[0])
        dist_dir.mkdir(parents=True, exist_ok=True)
        artifacts = []
        for path in (sdists[0], wheels[0]):
            target = dist_dir / path.name
            shutil.copyfile(path, target)
            artifacts.append(target)
    for path in artifacts:
        report.ok(f"build: {path} ({path.stat().st_size:,} bytes)")
    return artifacts


def check_wheel(report: Report, package: Package, version: str, wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_names = [n for n in names if n.endswith(".dist-info/METADATA")]
        if len(metadata_names) != 1:
            report.fail(f"wheel: {wheel.name} has {len(metadata_names)} METADATA files")
            return
        metadata = email.parser.BytesParser().parsebytes(archive.read(metadata_names[0]))
    name, built_version = normalize(metadata.get("Name", "")), metadata.get("Version", "")
    if name == package.name and built_version == version:
        report.ok(f"wheel: METADATA says {metadata['Name']} {built_version}")
    else:
        report.fail(
            f"wheel: METADATA says {metadata.get('Name')} {built_version}, "
            f"expected {package.name} {version}"
        )
    typed = f"{package.import_name}/py.typed"
    if typed in names:
        report.ok(f"wheel: contains {typed}")
    else:
        report.fail(f"wheel: {typed} is missing from {wheel.name}")


def check_sdist(report: Report, package: Package, version: str, sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        infos = [m for m in archive.getmembers() if m.name.count("/") == 1]
        pkg_info = next((m for m in infos if m.name.endswith("/PKG-INFO")), None)
        extracted = archive.extractfile(pkg_info) if pkg_info is not None else None
        if extracted is None:
            report.fail(f"sdist: {sdist.name} has no PKG-INFO")
            return
        metadata = email.parser.BytesParser().parsebytes(extracted.read())
    if metadata.get("Version") == version:
        report.ok(f"sdist: PKG-INFO says {metadata['Name']} {metadata['Version']}")
    else:
        report.fail(f"sdist: PKG-INFO says version {metadata.get('Version')}, expected {version}")


def expected_artifacts(package: Package, version: str, dist_dir: Path) -> list[Path]:
    stem = f"{package.name.replace('-', '_')}-{version}"
    return [dist_dir / f"{stem}.tar.gz", dist_dir / f"{stem}-py3-none-any.whl"]


# --- command line ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="release.py",
        description="Check (and with --build, build) one package for release. Never uploads.",
    )
    parser.add_argument("dist", help="distribution name, e.g. httptransport or netbackend-base")
    parser.add_argument("--tag", help="the release tag (default: the tag on HEAD, from git)")
    parser.add_argument(
        "--build", action="store_true", help="run hatch build and check the artifacts"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="preparing a release: a missing tag, [Unreleased] entries and a dirty tree only warn",
    )
    parser.add_argument(
        "--dist-dir", type=Path, help="where the artifacts go (default: packages/<dist>/dist)"
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository root (default: this script's)"
    )
    args = parser.parse_args(argv)

    root: Path = args.root.resolve()
    try:
        packages = find_packages(root)
        package = packages.get(normalize(args.dist))
        if package is None:
            known = ", ".join(sorted(packages)) or "none"
            raise ReleaseError(
                f"no package {args.dist!r} under {root / 'packages'} (there are: {known})"
            )
        version, source = package.version()
        Version.parse(version)
    except (ReleaseError, ValueError, OSError, tomllib.TOMLDecodeError) as exc:
        print(f"release.py: {exc}", file=sys.stderr)
        return 2

    mode = "dry run" if args.dry_run else "release"
    print(f"{package.name} {version} ({mode}; {package.folder.relative_to(root)})")
    report = Report()
    report.ok(f"version {version} (from {source})")
    check_tag(report, package, version, args.tag, root, args.dry_run)
    try:
        check_siblings(report, package, version, packages)
    except (ReleaseError, ValueError) as exc:
        report.fail(f"siblings: {exc}")
    check_changelog(report, package, version, args.dry_run)
    check_clean(report, package, root, args.dry_run)

    dist_dir: Path = (args.dist_dir or package.folder / "dist").resolve()
    artifacts = expected_artifacts(package, version, dist_dir)
    if args.build and not report.failures:
        artifacts = build(report, package, version, dist_dir)
    elif args.build:
        report.warn("build: skipped, since a check above failed")

    if report.failures:
        print(
            f"release.py: refusing to release {package.name} {version}: "
            f"{len(report.failures)} check(s) failed:",
            file=sys.stderr,
        )
        for failure in report.failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    built = "" if args.build else " (once built: add --build)"
    print(f"Would upload{built}; this script never uploads anything:")
    for path in artifacts:
        print(f"  {path}")
    files = " ".join(
        str(p.relative_to(package.folder)) if p.is_relative_to(package.folder) else str(p)
        for p in artifacts
    )
    print(f"To publish: cd {package.folder.relative_to(root)} && hatch publish {files}")
    if args.dry_run:
        print("Dry run: nothing was tagged or uploaded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
