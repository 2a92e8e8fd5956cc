"""Transports for httpx: send an ``httpx.Client``'s requests through httptransport.

::

    import httpx
    from httptransport.httpx import HTTPTransport

    with httpx.Client(transport=HTTPTransport(http2=True)) as client:
        response = client.get("https://www.example.com/")

:class:`HTTPTransport` (``httpx.BaseTransport``) and :class:`AsyncHTTPTransport`
(``httpx.AsyncBaseTransport``, asyncio and trio) take the arguments of httpx's own
``HTTPTransport``, plus ``network_backend``, and raise httpx's exceptions. Needs httpx
0.27 or later: ``pip install httptransport[httpx]``; without it, importing this module
raises ``ImportError`` saying so.
"""

from __future__ import annotations

from ._httpx import AsyncHTTPTransport as AsyncHTTPTransport
from ._httpx import HTTPTransport as HTTPTransport

__all__ = ("AsyncHTTPTransport", "HTTPTransport")
