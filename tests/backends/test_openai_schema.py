"""A server without structured outputs refuses ``response_format``: a ConfigError, not errors."""

from __future__ import annotations

import asyncio
import json

import pytest

import rubricate
from rubricate.backends.pool import create_openai_judge
from rubricate.errors import ConfigError
from tests.helpers import make_sample

_OK = json.dumps(
    {
        "choices": [{"message": {"role": "assistant", "content": '{"verdict": "met"}'}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4},
    }
)
_REFUSED = json.dumps(
    {"error": {"message": "response_format type json_schema is not supported", "code": 400}}
)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Just enough HTTP/1.1: 400 for a body with response_format, a verdict otherwise."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = json.loads(await reader.readexactly(length))
            status, text = (
                ("400 Bad Request", _REFUSED) if "response_format" in body else ("200 OK", _OK)
            )
            payload = text.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _grade(**options: str) -> rubricate.GradeResult:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    judge = create_openai_judge(f"http://127.0.0.1:{port}/v1", "stub", max_retries=2)
    try:
        return await rubricate.grade_async([make_sample("s1", [1, 2])], judge, **options)
    finally:
        await judge.aclose()
        server.close()
        await server.wait_closed()


def test_a_server_that_refuses_the_schema_stops_the_run_with_a_config_error() -> None:
    with pytest.raises(ConfigError, match="without --constrain") as caught:
        asyncio.run(_grade(constrain="json_schema"))
    assert "json_schema is not supported" in str(caught.value)


def test_the_same_server_grades_without_the_constraint() -> None:
    result = asyncio.run(_grade())
    assert [v.verdict for v in result.results[0].verdicts] == ["met", "met"]
