"""httptransport: not implemented yet (the HTTP/1.1 pool is in progress)."""

from .__about__ import __version__ as __version__

__all__ = ("__version__",)
