"""The network-backend interface, its exceptions, and discovery of installed backends."""

from __future__ import annotations

from .__about__ import __version__ as __version__
from ._concurrency import (
    AsyncEvent as AsyncEvent,
    AsyncLock as AsyncLock,
    AsyncSemaphore as AsyncSemaphore,
    Event as Event,
    Lock as Lock,
    Semaphore as Semaphore,
    async_shielded as async_shielded,
    async_sleep as async_sleep,
    current_async_library as current_async_library,
    shielded as shielded,
    sleep as sleep,
)
from ._discovery import (
    CONTEXTS as CONTEXTS,
    BackendInfo as BackendInfo,
    default_async_backend as default_async_backend,
    default_backend as default_backend,
    find_backend as find_backend,
    installed_backends as installed_backends,
    load_class as load_class,
)
from ._exceptions import (
    BackendNotFoundError as BackendNotFoundError,
    ConnectError as ConnectError,
    ConnectTimeout as ConnectTimeout,
    NetworkError as NetworkError,
    ReadError as ReadError,
    ReadTimeout as ReadTimeout,
    TimeoutException as TimeoutException,
    WriteError as WriteError,
    WriteTimeout as WriteTimeout,
    map_exceptions as map_exceptions,
)
from ._interfaces import (
    SOCKET_OPTION as SOCKET_OPTION,
    AsyncNetworkBackend as AsyncNetworkBackend,
    AsyncNetworkStream as AsyncNetworkStream,
    NetworkBackend as NetworkBackend,
    NetworkStream as NetworkStream,
)

__all__ = (
    "CONTEXTS",
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
    "Semaphore",
    "TimeoutException",
    "WriteError",
    "WriteTimeout",
    "__version__",
    "async_shielded",
    "async_sleep",
    "current_async_library",
    "default_async_backend",
    "default_backend",
    "find_backend",
    "installed_backends",
    "load_class",
    "map_exceptions",
    "shielded",
    "sleep",
)
