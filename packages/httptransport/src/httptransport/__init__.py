"""httptransport: a low-level HTTP client transport with httpcore 1.0's API, on netbackend.

Backend classes (``SyncBackend``, ``AnyIOBackend``, ``TrioBackend``, ``MockBackend``,
``MockStream``, ``AsyncMockBackend``, ``AsyncMockStream``) are resolved lazily from the
installed backend packages; see :mod:`httptransport._backends`.
"""

from __future__ import annotations

from netbackend_base import SOCKET_OPTION as SOCKET_OPTION
from netbackend_base import AsyncNetworkBackend as AsyncNetworkBackend
from netbackend_base import AsyncNetworkStream as AsyncNetworkStream
from netbackend_base import NetworkBackend as NetworkBackend
from netbackend_base import NetworkStream as NetworkStream

from .__about__ import __version__ as __version__
from ._api import request as request
from ._api import stream as stream

# The module-level hooks that resolve the backend class names lazily.
from ._backends import lazy_dir as __dir__  # noqa: F401
from ._backends import lazy_getattr as __getattr__  # noqa: F401
from ._exceptions import ConnectError as ConnectError
from ._exceptions import ConnectionNotAvailable as ConnectionNotAvailable
from ._exceptions import ConnectTimeout as ConnectTimeout
from ._exceptions import LocalProtocolError as LocalProtocolError
from ._exceptions import NetworkError as NetworkError
from ._exceptions import PoolTimeout as PoolTimeout
from ._exceptions import ProtocolError as ProtocolError
from ._exceptions import ProxyError as ProxyError
from ._exceptions import ReadError as ReadError
from ._exceptions import ReadTimeout as ReadTimeout
from ._exceptions import RemoteProtocolError as RemoteProtocolError
from ._exceptions import TimeoutException as TimeoutException
from ._exceptions import UnsupportedProtocol as UnsupportedProtocol
from ._exceptions import WriteError as WriteError
from ._exceptions import WriteTimeout as WriteTimeout
from ._models import URL as URL
from ._models import Origin as Origin
from ._models import Request as Request
from ._models import Response as Response
from ._ssl import default_ssl_context as default_ssl_context

_CORE = (
    "SOCKET_OPTION",
    "URL",
    "AsyncNetworkBackend",
    "AsyncNetworkStream",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionNotAvailable",
    "LocalProtocolError",
    "NetworkBackend",
    "NetworkError",
    "NetworkStream",
    "Origin",
    "PoolTimeout",
    "ProtocolError",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Request",
    "Response",
    "TimeoutException",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "__version__",
    "default_ssl_context",
    "request",
    "stream",
)

# The connections and the pool are being written alongside this module; until their
# subpackages export them, the rest of the package still imports and works.
try:
    from ._async import AsyncConnectionInterface as AsyncConnectionInterface  # type: ignore[import-not-found,unused-ignore]
    from ._async import AsyncConnectionPool as AsyncConnectionPool  # type: ignore[import-not-found,unused-ignore]
    from ._async import AsyncHTTP2Connection as AsyncHTTP2Connection  # type: ignore[import-not-found,unused-ignore]
    from ._async import AsyncHTTP11Connection as AsyncHTTP11Connection  # type: ignore[import-not-found,unused-ignore]
    from ._async import AsyncHTTPConnection as AsyncHTTPConnection  # type: ignore[import-not-found,unused-ignore]
except ImportError as exc:  # absent, or present without these names yet
    if exc.name != f"{__name__}._async":
        raise
    _ASYNC_POOL: tuple[str, ...] = ()
else:
    _ASYNC_POOL = (
        "AsyncConnectionInterface",
        "AsyncConnectionPool",
        "AsyncHTTP11Connection",
        "AsyncHTTP2Connection",
        "AsyncHTTPConnection",
    )

try:
    from ._sync import ConnectionInterface as ConnectionInterface  # type: ignore[import-not-found,unused-ignore]
    from ._sync import ConnectionPool as ConnectionPool  # type: ignore[import-not-found,unused-ignore]
    from ._sync import HTTP2Connection as HTTP2Connection  # type: ignore[import-not-found,unused-ignore]
    from ._sync import HTTP11Connection as HTTP11Connection  # type: ignore[import-not-found,unused-ignore]
    from ._sync import HTTPConnection as HTTPConnection  # type: ignore[import-not-found,unused-ignore]
except ImportError as exc:  # absent, or present without these names yet
    if exc.name != f"{__name__}._sync":
        raise
    _SYNC_POOL: tuple[str, ...] = ()
else:
    _SYNC_POOL = (
        "ConnectionInterface",
        "ConnectionPool",
        "HTTP11Connection",
        "HTTP2Connection",
        "HTTPConnection",
    )

__all__ = _CORE + _ASYNC_POOL + _SYNC_POOL
