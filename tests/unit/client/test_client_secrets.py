"""The token never shows: not in logs, exception text, reprs or anything printed."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from client_fakes import BASE, TOKEN, Harness, page

from courtflow.catalogue.resources import get_resource
from courtflow.config import Settings
from courtflow.errors import CourtflowError
from courtflow.redact import Secret

MakeHarness = Callable[..., Harness]


def test_token_absent_from_logs_errors_and_reprs(
    make_harness: MakeHarness,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    h = make_harness(max_attempts=2)
    # A hostile server echoing the Authorization header back in every error body.
    def echo(status: int) -> Callable[[httpx.Request], httpx.Response]:
        return lambda r: httpx.Response(
            status, json={"detail": f"bad {r.headers['Authorization']}"}, headers={"X": TOKEN}
        )

    scripts = [
        [echo(400)], [echo(401)], [echo(403)], [echo(404)], [echo(410)],
        [echo(500), echo(502)],
        [httpx.Response(429, json={"detail": TOKEN})],
        [httpx.ConnectError(f"refused Token {TOKEN}"), httpx.ReadTimeout(TOKEN)],
        [httpx.Response(200, text=f"not json {TOKEN}")] * 2,
        [page([], f"https://evil.test/?t={TOKEN}")],
        [httpx.Response(301, headers={"Location": f"https://evil.test/{TOKEN}"})],
    ]
    errors: list[BaseException] = []
    with caplog.at_level("DEBUG"):
        for script in scripts:
            h.server.script = list(script)
            with pytest.raises(CourtflowError) as info:
                list(h.client.iter_pages(get_resource("dockets")))
            errors.append(info.value)
    assert len(h.server.requests) >= len(scripts)
    assert all(r.headers["Authorization"] == f"Token {TOKEN}" for r in h.server.requests)

    texts = [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [caplog.text] + [repr(vars(r)) for r in caplog.records]
    texts += [repr(h.client), str(h.client), repr(h.client._settings)]
    texts += [repr(h.gate.reports)]
    out, err = capsys.readouterr()
    texts += [out, err]
    for text in texts:
        assert TOKEN not in text


def test_client_repr_says_whether_a_token_is_set_but_not_which() -> None:
    from courtflow.client import CourtListenerClient

    with CourtListenerClient(Settings(base_url=BASE, token=Secret(TOKEN))) as client:
        assert repr(client) == f"CourtListenerClient(base_url='{BASE}', token=set)"
        assert TOKEN not in repr(vars(client))
