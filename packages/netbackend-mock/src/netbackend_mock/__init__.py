"""Byte-scripted mock network backends, and fault-injecting wrappers for any backend."""

from __future__ import annotations

from .__about__ import __version__ as __version__
from ._async import AsyncMockBackend as AsyncMockBackend
from ._async import AsyncMockStream as AsyncMockStream
from ._common import ConnectCall as ConnectCall
from ._common import MockSSLObject as MockSSLObject
from ._common import StartTLSCall as StartTLSCall
from ._fault_logic import StallLimitExceeded as StallLimitExceeded
from ._fault_plan import ConnectionFaults as ConnectionFaults
from ._fault_plan import FaultEvent as FaultEvent
from ._fault_plan import FaultRates as FaultRates
from ._fault_plan import Faults as Faults
from ._faulty_async import AsyncFaultyBackend as AsyncFaultyBackend
from ._faulty_async import AsyncFaultyStream as AsyncFaultyStream
from ._faulty_sync import FaultyBackend as FaultyBackend
from ._faulty_sync import FaultyStream as FaultyStream
from ._sync import MockBackend as MockBackend
from ._sync import MockStream as MockStream

__all__ = (
    "AsyncFaultyBackend",
    "AsyncFaultyStream",
    "AsyncMockBackend",
    "AsyncMockStream",
    "ConnectCall",
    "ConnectionFaults",
    "FaultEvent",
    "FaultRates",
    "Faults",
    "FaultyBackend",
    "FaultyStream",
    "MockBackend",
    "MockSSLObject",
    "MockStream",
    "StallLimitExceeded",
    "StartTLSCall",
    "__version__",
)
