"""The network-backend interface, its exceptions, and discovery of installed backends."""

from __future__ import annotations

from .__about__ import __version__ as __version__
from ._concurrency import (
    AsyncEvent as AsyncEvent,
)
from ._concurrency import (
    AsyncLock as AsyncLock,
)
from ._concurrency import (
    AsyncSemaphore as AsyncSemaphore,
)
from ._concurrency import (
    Event as Event,
)
from ._concurrency import (
    Lock as Lock,
)
from ._concurrency import (
    Semaphore as Semaphore,
)
from ._concurrency import (
    async_shielded as async_shielded,
)
from ._concurrency import (
    async_sleep as async_sleep,
)
from ._concurrency import (
    current_async_library as current_async_library,
)
from ._concurrency import (
    shielded as shielded,
)
from ._concurrency import (
    sleep as sleep,
)
from ._discovery import (
    CONTEXTS as CONTEXTS,
)
from ._discovery import (
    BackendInfo as BackendInfo,
)
from ._discovery import (
    default_async_backend as default_async_backend,
)
from ._discovery import (
    default_backend as default_backend,
)
from ._discovery import (
    find_backend as find_backend,
)
from ._discovery import (
    installed_backends as installed_backends,
)
from ._discovery import (
    load_class as load_class,
)
from ._exceptions import (
    BackendNotFoundError as BackendNotFoundError,
)
from ._exceptions import (
    ConnectError as ConnectError,
)
from ._exceptions import (
    ConnectTimeout as ConnectTimeout,
)
from ._exceptions import (
    NetworkError as NetworkError,
)
from ._exceptions import (
    ReadError as ReadError,
)
from ._exceptions import (
    ReadTimeout as ReadTimeout,
)
from ._exceptions import (
    TimeoutException as TimeoutException,
)
from ._exceptions import (
    WriteError as WriteError,
)
from ._exceptions import (
    WriteTimeout as WriteTimeout,
)
from ._exceptions import (
    map_exceptions as map_exceptions,
)
from ._interfaces import (
    SOCKET_OPTION as SOCKET_OPTION,
)
from ._interfaces import (
    AsyncNetworkBackend as AsyncNetworkBackend,
)
from ._interfaces import (
    AsyncNetworkStream as AsyncNetworkStream,
)
from ._interfaces import (
    NetworkBackend as NetworkBackend,
)
from ._interfaces import (
    NetworkStream as NetworkStream,
)
from ._resolve import (
    Resolution as Resolution,
)
from ._resolve import (
    resolve_in_thread as resolve_in_thread,
)
from ._sockets import (
    HAPPY_EYEBALLS_DELAY as HAPPY_EYEBALLS_DELAY,
)
from ._sockets import (
    SocketTarget as SocketTarget,
)
from ._sockets import (
    connect_socket as connect_socket,
)
from ._sockets import (
    interleave_targets as interleave_targets,
)
from ._sockets import (
    new_socket as new_socket,
)
from ._sockets import (
    numeric_targets as numeric_targets,
)
from ._sockets import (
    poll_readable as poll_readable,
)
from ._sockets import (
    socket_info as socket_info,
)
from ._sockets import (
    targets_from_addrinfo as targets_from_addrinfo,
)
from ._tls import (
    find_ssl_error as find_ssl_error,
)
from ._tls import (
    tls_failure_message as tls_failure_message,
)

__all__ = (
    "CONTEXTS",
    "HAPPY_EYEBALLS_DELAY",
    "SOCKET_OPTION",
    "AsyncEvent",
    "AsyncLock",
    "AsyncNetworkBackend",
    "AsyncNetworkStream",
    "AsyncSemaphore",
    "BackendInfo",
    "BackendNotFoundError",
    "ConnectError",
    "ConnectTimeout",
    "Event",
    "Lock",
    "NetworkBackend",
    "NetworkError",
    "NetworkStream",
    "ReadError",
    "ReadTimeout",
    "Resolution",
    "Semaphore",
    "SocketTarget",
    "TimeoutException",
    "WriteError",
    "WriteTimeout",
    "__version__",
    "async_shielded",
    "async_sleep",
    "connect_socket",
    "current_async_library",
    "default_async_backend",
    "default_backend",
    "find_backend",
    "find_ssl_error",
    "installed_backends",
    "interleave_targets",
    "load_class",
    "map_exceptions",
    "new_socket",
    "numeric_targets",
    "poll_readable",
    "resolve_in_thread",
    "shielded",
    "sleep",
    "socket_info",
    "targets_from_addrinfo",
    "tls_failure_message",
)
