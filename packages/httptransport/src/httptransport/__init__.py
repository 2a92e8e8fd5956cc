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
from ._async import AsyncConnectionInterface as AsyncConnectionInterface
from ._async import AsyncConnectionPool as AsyncConnectionPool
from ._async import AsyncHTTP2Connection as AsyncHTTP2Connection
from ._async import AsyncHTTP11Connection as AsyncHTTP11Connection
from ._async import AsyncHTTPConnection as AsyncHTTPConnection
from ._async import AsyncHTTPProxy as AsyncHTTPProxy
from ._async import AsyncSOCKSProxy as AsyncSOCKSProxy

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
from ._proxy_model import Proxy as Proxy
from ._ssl import default_ssl_context as default_ssl_context
from ._sync import ConnectionInterface as ConnectionInterface
from ._sync import ConnectionPool as ConnectionPool
from ._sync import HTTP2Connection as HTTP2Connection
from ._sync import HTTP11Connection as HTTP11Connection
from ._sync import HTTPConnection as HTTPConnection
from ._sync import HTTPProxy as HTTPProxy
from ._sync import SOCKSProxy as SOCKSProxy

__all__ = (
    "SOCKET_OPTION",
    "URL",
    "AsyncConnectionInterface",
    "AsyncConnectionPool",
    "AsyncHTTP2Connection",
    "AsyncHTTP11Connection",
    "AsyncHTTPConnection",
    "AsyncHTTPProxy",
    "AsyncNetworkBackend",
    "AsyncNetworkStream",
    "AsyncSOCKSProxy",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionInterface",
    "ConnectionNotAvailable",
    "ConnectionPool",
    "HTTP2Connection",
    "HTTP11Connection",
    "HTTPConnection",
    "HTTPProxy",
    "LocalProtocolError",
    "NetworkBackend",
    "NetworkError",
    "NetworkStream",
    "Origin",
    "PoolTimeout",
    "ProtocolError",
    "Proxy",
    "ProxyError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Request",
    "Response",
    "SOCKSProxy",
    "TimeoutException",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
    "__version__",
    "default_ssl_context",
    "request",
    "stream",
)
