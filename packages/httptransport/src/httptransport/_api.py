"""One-off requests: :func:`request` and :func:`stream`, each on a throwaway pool.

Convenient for scripts and tests; anything making several requests should keep a
``ConnectionPool`` open instead, so that connections are reused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from ._models import URL, Extensions, HeaderTypes, Response
from ._sync import ConnectionPool

__all__ = ("request", "stream")


def request(
    method: bytes | str,
    url: URL | bytes | str,
    *,
    headers: HeaderTypes = None,
    content: bytes | Iterable[bytes] | None = None,
    extensions: Extensions | None = None,
) -> Response:
    """Send one request on a new pool, read the whole response and close the pool.

    Args:
        method: The method, such as ``"GET"``.
        url: The URL, as a :class:`URL`, bytes or str.
        headers: Request headers, as a mapping or a sequence of pairs.
        content: The body: bytes or an iterable of bytes.
        extensions: Request extensions (``"timeout"``, ``"trace"``, ...).

    Returns:
        The response, its body already read into ``response.content``.
    """
    with ConnectionPool() as pool:
        response: Response = pool.request(
            method=method, url=url, headers=headers, content=content, extensions=extensions
        )
    return response


@contextlib.contextmanager
def stream(
    method: bytes | str,
    url: URL | bytes | str,
    *,
    headers: HeaderTypes = None,
    content: bytes | Iterable[bytes] | None = None,
    extensions: Extensions | None = None,
) -> Iterator[Response]:
    """Send one request on a new pool and yield the response with its body unread.

    Iterate ``response.iter_stream()`` inside the block; the response and the pool are
    closed on leaving it.

    Args:
        method: The method, such as ``"GET"``.
        url: The URL, as a :class:`URL`, bytes or str.
        headers: Request headers, as a mapping or a sequence of pairs.
        content: The body: bytes or an iterable of bytes.
        extensions: Request extensions (``"timeout"``, ``"trace"``, ...).

    Yields:
        The streaming response.
    """
    with (
        ConnectionPool() as pool,
        pool.stream(
            method=method, url=url, headers=headers, content=content, extensions=extensions
        ) as response,
    ):
        yield response
