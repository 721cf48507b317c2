"""Hostile clients against the reward server through a real uvicorn on loopback: every malformed
body is a 4xx, nothing is a 500, slow or ambiguous connections are closed, and a huge templated
request does not hold ``/healthz``."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from rubricate.errors import InputError
from rubricate.server import GuardedH11Protocol, RubricBook
from tests.rewards.rows import QUESTION, RUBRIC
from tests.server.conftest import Serve
from tests.server.test_app import Gate
from tests.support.judge_server import JudgeServer

GOOD_CRITERION = {"criterion": "Says four", "points": 5}


def native(rubric: Any, response: Any = "4") -> dict[str, Any]:
    return {"samples": [{"prompt": QUESTION, "response": response, "rubric": rubric}]}


def raw(value: Any, **literals: str) -> bytes:
    text = json.dumps(value)
    for name, literal in literals.items():
        text = text.replace(json.dumps(f"@{name}"), literal)
    return text.encode("utf-8", "surrogatepass")


def post(url: str, path: str, body: bytes, **headers: str) -> httpx.Response:
    headers = {"content-type": "application/json", **headers}
    return httpx.post(f"{url}{path}", content=body, headers=headers, timeout=60)


HOSTILE_BODIES = [
    ("nan-points", raw(native([{**GOOD_CRITERION, "points": "@x"}]), x="NaN"), 400),
    ("infinity-points", raw(native([{**GOOD_CRITERION, "points": "@x"}]), x="Infinity"), 400),
    ("overflow-points", raw(native([{**GOOD_CRITERION, "points": "@x"}]), x="1e999"), 400),
    ("huge-int-points", raw(native([{**GOOD_CRITERION, "points": "@x"}]), x="1" + "0" * 400), 400),
    ("integer-tags", raw(native([{**GOOD_CRITERION, "tags": [1]}])), 422),
    ("required-as-string", raw(native([{**GOOD_CRITERION, "required": "false"}])), 422),
    ("lone-surrogate", raw(native([GOOD_CRITERION], response="\ud800")), 400),
    ("deep-nesting", raw(native("@x"), x="[" * 100_000 + "]" * 100_000), 400),
    ("response-not-text", raw(native([GOOD_CRITERION], response=4)), 422),
    ("not-utf8", b'{"samples": [{"prompt": "caf\xe9"}]}', 400),
    ("empty-rubric", raw(native([])), 422),
    ("rubric-text-deep", raw(native("[" * 100_000 + "]" * 100_000)), 422),
    ("rubric-text-nan", raw(native('[{"criterion": "x", "points": NaN}]')), 422),
    ("duplicate-criterion-ids", raw(native([{"id": "a", "criterion": "x"}, {"id": "a", "criterion": "y"}])), 422),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "body", "status"), HOSTILE_BODIES, ids=[b[0] for b in HOSTILE_BODIES]
)
def test_hostile_native_bodies_are_4xx(
    judge_server: JudgeServer, serve: Serve, name: str, body: bytes, status: int
) -> None:
    server = serve(judge_server.url)
    for path in ("/v1/grade", "/v1/reward"):
        reply = post(server.url, path, body)
        assert reply.status_code == status, reply.text
        assert reply.json()["error"]["code"] in ("invalid_json", "invalid_input")
    assert judge_server.requests == 0


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "1e999", "1" + "0" * 400, "[" * 100_000 + "1" + "]" * 100_000]
)
def test_hostile_openrlhf_labels_are_4xx(
    judge_server: JudgeServer, serve: Serve, literal: str
) -> None:
    server = serve(judge_server.url)
    label = json.dumps([{"criterion": "Says four", "points": 1}]).replace("1}", literal + "}")
    body = json.dumps({"query": ["Q 4"], "prompts": ["Q"], "labels": [label]}).encode()
    reply = post(server.url, "/get_reward", body)
    assert reply.status_code == 422, reply.text
    assert "labels[0]" in reply.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_docs_routes_are_off_by_default(judge_server: JudgeServer, serve: Serve, path: str) -> None:
    server = serve(judge_server.url, api_key="secret")
    assert httpx.get(f"{server.url}{path}").status_code == 404


def test_docs_when_enabled_sit_behind_the_key(judge_server: JudgeServer, serve: Serve) -> None:
    server = serve(judge_server.url, api_key="secret", docs=True)
    for path in ("/docs", "/openapi.json"):
        assert httpx.get(f"{server.url}{path}").status_code == 401
        authorized = httpx.get(f"{server.url}{path}", headers={"Authorization": "Bearer secret"})
        assert authorized.status_code == 200
    assert (
        "/v1/grade"
        in httpx.get(
            f"{server.url}/openapi.json", headers={"Authorization": "Bearer secret"}
        ).json()["paths"]
    )


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_content_length_with_transfer_encoding_is_refused_and_closed(
    judge_server: JudgeServer, serve: Serve
) -> None:
    server = serve(judge_server.url)
    body = json.dumps(native([GOOD_CRITERION])).encode()
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    with _connect(server.url) as sock:
        sock.sendall(
            b"POST /v1/grade HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
            + chunked
        )
        reply = _read_all(sock)  # returns only because the server closes the connection
    assert reply.startswith(b"HTTP/1.1 400") and b"ambiguous_framing" in reply
    assert b"connection: close" in reply.lower()
    assert judge_server.requests == 0


def test_half_sent_headers_are_closed_after_the_header_deadline(
    judge_server: JudgeServer, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GuardedH11Protocol, "header_timeout_s", 0.5)
    server = serve(judge_server.url)
    socks = [_connect(server.url) for _ in range(20)]
    start = time.monotonic()
    try:
        for sock in socks:
            sock.sendall(b"POST /v1/grade HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        time.sleep(0.3)
        for sock in socks:  # trickled bytes do not extend the deadline
            sock.sendall(b"a")
        assert all(_read_all(sock) == b"" for sock in socks)
    finally:
        for sock in socks:
            sock.close()
    assert time.monotonic() - start < 5
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_stalled_body_is_closed_after_the_idle_timeout(
    judge_server: JudgeServer, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GuardedH11Protocol, "body_idle_timeout_s", 0.5)
    server = serve(judge_server.url)
    with _connect(server.url) as sock:
        start = time.monotonic()
        sock.sendall(
            b"POST /v1/grade HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"samples": '
        )
        assert b" 500" not in _read_all(sock)
        assert time.monotonic() - start < 5


def test_a_client_hanging_up_mid_body_is_no_500_and_no_error_log(
    judge_server: JudgeServer, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(judge_server.url)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with _connect(server.url) as sock:
                sock.sendall(
                    b"POST /v1/grade HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 100000\r\n\r\n{"samples": [{"prompt": "'
                )
        metrics = ""
        for _ in range(200):  # bounded: the server notices the hang-ups asynchronously
            metrics = httpx.get(f"{server.url}/metrics").text
            if 'endpoint="/v1/grade",status="499"} 3' in metrics:
                break
            time.sleep(0.02)
    assert 'endpoint="/v1/grade",status="499"} 3' in metrics
    assert 'status="500"' not in metrics
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_admission_is_checked_before_the_body_is_parsed(serve: Serve) -> None:
    gate = Gate()
    with JudgeServer(decide=gate.decide) as judge:
        server = serve(judge.url, max_pending=1)
        slow = threading.Thread(
            target=post,
            args=(server.url, "/v1/grade", json.dumps(native([GOOD_CRITERION])).encode()),
        )
        slow.start()
        try:
            for _ in range(500):  # bounded: until the first request holds the only slot
                if httpx.get(f"{server.url}/healthz").json()["queue"]["pending"] == 1:
                    break
                time.sleep(0.01)
            refused = post(server.url, "/v1/grade", b"{ this is not even JSON")
            assert refused.status_code == 503 and refused.headers["retry-after"]
            assert refused.json()["error"]["code"] == "overloaded"
        finally:
            gate.open.set()
            slow.join(timeout=30)


@pytest.mark.parametrize(("cache", "promise"), [(True, "are cached"), (False, "nothing is cached")])
def test_504_text_promises_caching_only_with_a_cache(
    serve: Serve, cache: bool, promise: str
) -> None:
    gate = Gate()
    with JudgeServer(decide=gate.decide) as judge:
        server = serve(judge.url, cache=cache)
        body = json.dumps(native([GOOD_CRITERION])).encode()
        late = post(server.url, "/v1/grade", body, **{"X-Rubricate-Deadline": "0.05"})
        gate.open.set()
    assert late.status_code == 504
    assert promise in late.json()["error"]["message"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "soon"])
def test_a_non_finite_deadline_header_is_a_400(
    judge_server: JudgeServer, serve: Serve, value: str
) -> None:
    server = serve(judge_server.url)
    body = json.dumps(native([GOOD_CRITERION])).encode()
    reply = post(server.url, "/v1/grade", body, **{"X-Rubricate-Deadline": value})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_header"


def _healthz_while(url: str, work: Any) -> tuple[Any, float]:
    """``work()``'s result and the worst /healthz latency seen while it ran."""
    worst = 0.0
    done = threading.Event()

    def poll() -> None:
        nonlocal worst
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                start = time.perf_counter()
                client.get(f"{url}/healthz")
                worst = max(worst, time.perf_counter() - start)
                time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = work()
    finally:
        done.set()
        poller.join()
    return result, worst


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {
                "query": ["<|im_start|>user\n" * 34_000 + "4"],
                "prompts": ["<|im_start|>user\n" * 34_000],
            },
            id="im_start-563KiB",
        ),
        pytest.param({"query": ["4" + "</s>" * 393_000]}, id="end-markers-1.5MiB"),
    ],
)
def test_huge_templated_requests_do_not_stall_healthz(
    judge_server: JudgeServer, serve: Serve, body: dict[str, Any]
) -> None:
    server = serve(judge_server.url)
    body = {**body, "labels": [json.dumps(RUBRIC)]}
    start = time.perf_counter()
    reply, worst = _healthz_while(
        server.url, lambda: httpx.post(f"{server.url}/get_reward", json=body, timeout=120)
    )
    assert reply.status_code == 200, reply.text
    assert time.perf_counter() - start < 20  # was 165 s and 28 s before the linear splitter
    assert worst < 2.0  # the 2-core test machine is shared; before: 28 s and over 120 s


def test_duplicate_ids_in_the_rubrics_file_name_both_lines(tmp_path: Any) -> None:
    book = tmp_path / "rubrics.jsonl"
    rows = [
        {"id": "q1", "rubric": RUBRIC},
        {"id": "q2", "rubric": RUBRIC},
        {"id": "q1", "rubric": RUBRIC},
    ]
    book.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError, match="appears twice \\(lines 1 and 3\\)") as caught:
        RubricBook.load(book)
    assert caught.value.file == str(book) and caught.value.line == 3


def test_rubrics_file_with_bad_numbers_is_located(tmp_path: Any) -> None:
    book = tmp_path / "rubrics.json"
    book.write_text('{"q1": [{"criterion": "Says four", "points": NaN}]}')
    with pytest.raises(InputError, match="NaN") as caught:
        RubricBook.load(book)
    assert caught.value.file == str(book)
