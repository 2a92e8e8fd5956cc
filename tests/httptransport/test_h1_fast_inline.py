"""The HTTP/1.1 connection builds each response and its fixed-length body with the
lines of ``new_response()`` and ``AsyncFixedBody.__init__`` inline: what it builds has
every slot those set, with the same values, so the copies cannot drift apart."""

from __future__ import annotations

import typing

import pytest

import netbackend_mock
from httptransport import Origin, Request, Response
from httptransport._async.http11 import AsyncHTTP11Connection
from httptransport._async.http11_body import AsyncFixedBody
from httptransport._models import new_response


def _slots(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        names.update(getattr(klass, "__slots__", ()))
    return names


def _state(obj: object, names: set[str]) -> dict[str, typing.Any]:
    return {name: getattr(obj, name) for name in names if hasattr(obj, name)}


@pytest.mark.anyio
async def test_inline_response_and_fixed_body_match_their_constructors() -> None:
    stream = netbackend_mock.AsyncMockStream([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"])
    origin = Origin(b"http", b"example.com", 80)
    async with AsyncHTTP11Connection(origin, stream) as conn:
        request = Request("GET", "http://example.com/", headers=[(b"Host", b"example.com")])
        response = await conn.handle_async_request(request)
        body = response.stream
        assert type(response) is Response
        assert type(body) is AsyncFixedBody

        expected_body = AsyncFixedBody(conn, 5, True, None, None)
        names = _slots(AsyncFixedBody)
        built = _state(body, names)
        assert built == _state(expected_body, names)
        assert set(built) == names - {"_pool_conn"}  # (set when a pool takes it)

        expected = new_response(200, response.headers, body, response.extensions)
        names = _slots(Response)
        assert _state(response, names) == _state(expected, names)
        assert set(_state(response, names)) == names
        assert await response.aread() == b"hello"
