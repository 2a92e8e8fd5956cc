"""The shared header grammar and its name cache (httptransport._headers)."""

from __future__ import annotations

import pytest

import httptransport
from httptransport import _headers, _models


def test_the_name_cache_is_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long names are checked but never remembered, and the cache stops at its entry
    limit: 400 responses' worth of 60 kB names leave it small, and bad names are never
    cached."""
    monkeypatch.setattr(_headers, "_names", {})
    for index in range(400):
        name = b"x-%d-" % index + b"n" * 60_000
        assert _headers.lower_name(name) == name.lower()
    assert _headers._names == {}
    assert _headers.lower_name(b"Bad Name") is None
    assert _headers._names == {}
    for index in range(_headers.NAMES_MAX + 10):
        _headers.lower_name(b"X-%d" % index)
    assert len(_headers._names) == _headers.NAMES_MAX
    size = sum(len(k) + len(v) for k, v in _headers._names.items())
    assert size <= _headers.NAMES_MAX * 2 * _headers.CACHED_NAME_MAX


def test_long_urls_are_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The URL parse cache keeps short URLs only, so huge URLs (even rejected ones)
    cannot fill it."""
    monkeypatch.setattr(_models, "_parsed_urls", {})
    long_url = "http://example.com/" + "a" * 500_000
    request = _models.build_request("GET", long_url, None, None, None)
    assert request.url.target.startswith(b"/aaa")
    assert _models._parsed_urls == {}
    with pytest.raises(TypeError):
        _models.build_request("GET", "http://example.com/\u00e9" * 10_000, None, None, None)
    assert _models._parsed_urls == {}
    _models.build_request("GET", "http://example.com/short", None, None, None)
    assert list(_models._parsed_urls) == ["http://example.com/short"]
    assert httptransport.URL("http://example.com/short").target == b"/short"
