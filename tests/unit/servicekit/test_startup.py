"""How a failed start is classified and logged; the first connection's bounded retries;
JSON log lines without uvicorn's colour escapes."""

from __future__ import annotations

import logging
import ssl

import orjson
import pytest
from pydantic import ValidationError

from polyfhir_core.config import ConfigError, ConfigProblem
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_servicekit.logs import JsonFormatter
from polyfhir_servicekit.startup import (
    CannotListen,
    EngineUnreachable,
    ExitCode,
    UsageError,
    check_port,
    classify,
    guarded,
    retry_until_reachable,
)


def _settings_error(monkeypatch: pytest.MonkeyPatch) -> ValidationError:
    monkeypatch.setenv("POLYFHIR_MAX_COUNT", "lots")
    with pytest.raises(ValidationError) as caught:
        GatewaySettings()
    return caught.value


def test_each_kind_of_failure_has_its_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = ConfigError([ConfigProblem("unknown_backend", "no backend 'x'", "routing[0].target")])
    assert classify(_settings_error(monkeypatch)) == (
        ExitCode.CONFIGURATION,
        "invalid settings: POLYFHIR_MAX_COUNT: Input should be a valid integer, unable to parse"
        " string as an integer",
    )
    assert classify(problem) == (
        ExitCode.CONFIGURATION,
        "invalid composite configuration: routing[0].target: no backend 'x'",
    )
    assert classify(UsageError("bad"))[0] == ExitCode.USAGE
    assert classify(EngineUnreachable("gone"))[0] == ExitCode.UNREACHABLE
    assert classify(CannotListen("taken"))[0] == ExitCode.CANNOT_LISTEN
    assert classify(ConnectionRefusedError("refused"))[0] == ExitCode.UNREACHABLE
    # reached, but TLS refused (an untrusted certificate): a person must change a CA file
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert classify(untrusted)[0] == ExitCode.CONFIGURATION
    assert classify(untrusted)[1].startswith("TLS refused: ")
    assert classify(KeyError("bug")) == (ExitCode.FAILED, "unexpected error: KeyError: 'bug'")


@pytest.mark.parametrize("port", [0, 65536, 99999, -1])
def test_ports_outside_the_tcp_range_are_refused(port: int) -> None:
    with pytest.raises(UsageError, match="not a TCP port"):
        check_port(port)


def test_guarded_turns_a_failure_into_one_record_and_the_exit_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @guarded
    def main() -> None:
        raise UsageError("--port 99999: not a TCP port (1-65535)")

    with (
        caplog.at_level(logging.INFO, logger="polyfhir.startup"),
        pytest.raises(SystemExit) as ended,
    ):
        main()
    assert ended.value.code == 2
    (record,) = [r for r in caplog.records if r.name == "polyfhir.startup"]
    assert record.levelname == "CRITICAL" and record.exc_info is None
    assert record.__dict__["exit_code"] == 2


def test_an_unexpected_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    @guarded
    def main() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == 1
    (record,) = [r for r in caplog.records if r.name == "polyfhir.startup"]
    assert record.exc_info is not None  # a bug is reported with where it happened


async def test_the_first_connection_is_retried_then_given_up() -> None:
    attempts: list[int] = []

    async def refused() -> str:
        attempts.append(len(attempts) + 1)
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(EngineUnreachable, match=r"the database unreachable after \d+ attempt"):
        await retry_until_reachable(
            refused, "the database", timeout_s=0.05, first_delay_s=0.01, max_delay_s=0.02
        )
    assert len(attempts) >= 2


async def test_a_connection_that_comes_up_is_used() -> None:
    answers: list[str | OSError] = [OSError("not yet"), OSError("not yet"), "connected"]

    async def connect() -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    assert (
        await retry_until_reachable(connect, "db", timeout_s=5, first_delay_s=0.001) == "connected"
    )


async def test_a_non_transient_error_is_not_retried() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("refused login")

    with pytest.raises(ValueError, match="refused login"):
        await retry_until_reachable(broken, "db", timeout_s=5)
    assert calls == 1


def test_json_lines_carry_no_colour_escapes() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, "", 0, "Uvicorn running on %s", ("x",), None
    )
    record.color_message = "Uvicorn running on \x1b[1m%s\x1b[0m"
    line = JsonFormatter().format(record)
    assert "\x1b" not in line
    assert orjson.loads(line)["msg"] == "Uvicorn running on x"
