"""MkDocs hook: links from the docs to files outside docs/ still make sense on the site.

Some pages are also read on GitHub, where a relative link to a repository file (a
package README, ``tests/conformance/README.md``) works. The site holds only docs/, so at
build time:

* a link to a package's README points at the site page that covers the same ground;
* a link to any other file outside docs/ becomes its text followed by the file's path
  in the repository.

Links within docs/ are left alone, for ``mkdocs build --strict`` to check.
"""

from __future__ import annotations

import posixpath
import re
import typing

# The site page that stands in for each package README.
README_PAGES = {
    "httptransport": "migrating.md",
    "netbackend-base": "backends.md",
    "netbackend-sync": "backends.md",
    "netbackend-anyio": "backends.md",
    "netbackend-trio": "backends.md",
    "netbackend-mock": "backends.md",
}
_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")
_README = re.compile(r"packages/(?P<dist>[a-z-]+)/README\.md(?:#.*)?")


def on_page_markdown(markdown: str, page: typing.Any, **kwargs: typing.Any) -> str:
    """Rewrite the links of ``page`` that leave docs/."""
    here = posixpath.dirname(page.file.src_uri)

    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        if "://" in target or target.startswith(("#", "/", "mailto:")):
            return match[0]
        resolved = posixpath.normpath(posixpath.join("docs", here, target))
        if resolved == "docs" or resolved.startswith("docs/"):
            return match[0]  # inside docs/: mkdocs checks it
        readme = _README.fullmatch(resolved)
        page_for = README_PAGES.get(readme["dist"]) if readme else None
        if page_for is not None:
            return f"[{match['text']}]({posixpath.relpath(page_for, here or '.')})"
        path = resolved.split("#", 1)[0]
        return f"{match['text']} (`{path}` in the repository)"

    return _LINK.sub(replace, markdown)
