"""Byte-scripted mock network backends, fault-injecting wrappers for any backend, and
byte-level record and replay of any backend's connections."""

from __future__ import annotations

from .__about__ import __version__ as __version__
from ._async import AsyncMockBackend as AsyncMockBackend
from ._async import AsyncMockStream as AsyncMockStream
from ._cassette import Cassette as Cassette
from ._cassette import CassetteFormatError as CassetteFormatError
from ._cassette import Event as Event
from ._cassette import RecordedConnection as RecordedConnection
from ._cassette import RecordedError as RecordedError
from ._cassette import RecordedResolve as RecordedResolve
from ._cassette import TLSInfo as TLSInfo
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
from ._record_async import AsyncRecordingBackend as AsyncRecordingBackend
from ._record_async import AsyncRecordingStream as AsyncRecordingStream
from ._record_async import AsyncReplayBackend as AsyncReplayBackend
from ._record_async import AsyncReplayStream as AsyncReplayStream
from ._record_sync import RecordingBackend as RecordingBackend
from ._record_sync import RecordingStream as RecordingStream
from ._record_sync import ReplayBackend as ReplayBackend
from ._record_sync import ReplayStream as ReplayStream
from ._replay_logic import ReplayMismatch as ReplayMismatch
from ._replay_logic import ReplaySSLObject as ReplaySSLObject
from ._sync import MockBackend as MockBackend
from ._sync import MockStream as MockStream

__all__ = (
    "AsyncFaultyBackend",
    "AsyncFaultyStream",
    "AsyncMockBackend",
    "AsyncMockStream",
    "AsyncRecordingBackend",
    "AsyncRecordingStream",
    "AsyncReplayBackend",
    "AsyncReplayStream",
    "Cassette",
    "CassetteFormatError",
    "ConnectCall",
    "ConnectionFaults",
    "Event",
    "FaultEvent",
    "FaultRates",
    "Faults",
    "FaultyBackend",
    "FaultyStream",
    "MockBackend",
    "MockSSLObject",
    "MockStream",
    "RecordedConnection",
    "RecordedError",
    "RecordedResolve",
    "RecordingBackend",
    "RecordingStream",
    "ReplayBackend",
    "ReplayMismatch",
    "ReplaySSLObject",
    "ReplayStream",
    "StallLimitExceeded",
    "StartTLSCall",
    "TLSInfo",
    "__version__",
)
