"""Starting a service: one structured log line and a distinct exit code when it cannot.

Every console script (``polyfhir``, ``polyfhir-gateway``, ``polyfhir-primary-store``, the
indexers) runs its ``main`` through :func:`guarded`. A start that fails for a reason an
operator can fix ends with one JSON line on stderr naming it, and the process exits with
a code that says which kind it was (docs/operations.md, "Exit codes"), not a traceback:

==  =========================================================================
0   ran and stopped normally
1   an unexpected error (a bug: logged once, with its traceback)
2   bad command line (``--port 99999``)
3   invalid configuration (a setting, the composite config, a refused login or TLS session)
4   an engine stayed unreachable (database, broker, search engine) through the retries
5   cannot listen on the address (port taken, not allowed)
==  =========================================================================
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from enum import IntEnum
from typing import ParamSpec, TypeVar

from pydantic import ValidationError

from polyfhir_core.config import ConfigError

log = logging.getLogger("polyfhir.startup")

P = ParamSpec("P")
R = TypeVar("R")


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIGURATION = 3
    UNREACHABLE = 4
    CANNOT_LISTEN = 5


class StartupError(Exception):
    """A reason not to start that the operator can fix; ``exit_code`` says which kind."""

    exit_code = ExitCode.FAILED


class UsageError(StartupError):
    exit_code = ExitCode.USAGE


class ConfigurationInvalid(StartupError):
    exit_code = ExitCode.CONFIGURATION


class EngineUnreachable(StartupError):
    exit_code = ExitCode.UNREACHABLE


class CannotListen(StartupError):
    exit_code = ExitCode.CANNOT_LISTEN


def _settings_problems(error: ValidationError) -> str:
    """``POLYFHIR_PORT: Input should be a valid integer; ...`` (the variables, not fields)."""
    parts = []
    for problem in error.errors():
        where = "_".join(str(part) for part in problem["loc"]).upper()
        message = problem["msg"].removeprefix("Value error, ")
        parts.append(f"POLYFHIR_{where}: {message}" if where else message)
    return "; ".join(parts)


def classify(error: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one-line message for an error that stopped the start."""
    if isinstance(error, StartupError):
        return error.exit_code, str(error)
    if isinstance(error, ValidationError):
        return ExitCode.CONFIGURATION, f"invalid settings: {_settings_problems(error)}"
    if isinstance(error, ConfigError):
        problems = "; ".join(f"{p.location}: {p.message}" for p in error.problems)
        return ExitCode.CONFIGURATION, f"invalid composite configuration: {problems}"
    if isinstance(error, ssl.SSLError):  # reached, and TLS refused: a CA, a certificate
        return ExitCode.CONFIGURATION, f"TLS refused: {error}"
    if isinstance(error, OSError | asyncio.TimeoutError):
        return ExitCode.UNREACHABLE, f"unreachable: {error}"
    return ExitCode.FAILED, f"unexpected error: {type(error).__name__}: {error}"


def guarded(main: Callable[P, None]) -> Callable[P, None]:
    """Run ``main``; a failure becomes one log line and :class:`ExitCode` (see above)."""

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        from polyfhir_servicekit.logs import configure_logging

        if not logging.getLogger().handlers:
            configure_logging()  # errors before the service configured its own level
        try:
            main(*args, **kwargs)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception as error:
            code, message = classify(error)
            details = {"exit_code": int(code), "error": type(error).__name__}
            log.critical(
                message, extra=details, exc_info=error if code == ExitCode.FAILED else None
            )
            raise SystemExit(int(code)) from None

    return run


def check_port(port: int, option: str = "--port") -> int:
    if not 1 <= port <= 65535:
        msg = f"{option} {port}: not a TCP port (1-65535)"
        raise UsageError(msg)
    return port


async def retry_until_reachable(
    connect: Callable[[], Awaitable[R]],
    what: str,
    *,
    timeout_s: float,
    transient: tuple[type[BaseException], ...] = (OSError,),
    first_delay_s: float = 0.5,
    max_delay_s: float = 5.0,
) -> R:
    """``connect()``, retried with doubling delays while it fails with ``transient`` errors
    (each logged), for at most ``timeout_s``; then :class:`EngineUnreachable`."""
    deadline = time.monotonic() + timeout_s
    delay, attempt = first_delay_s, 1
    while True:
        try:
            return await connect()
        except transient as error:
            left = deadline - time.monotonic()
            if left <= 0:
                msg = f"{what} unreachable after {attempt} attempt(s) in {timeout_s:g} s: {error}"
                raise EngineUnreachable(msg) from error
            wait = min(delay, max_delay_s, left)
            log.warning(
                "%s not reachable yet (attempt %d): %s; next attempt in %.1f s",
                what,
                attempt,
                error,
                wait,
                extra={"attempt": attempt, "retry_in_s": round(wait, 1)},
            )
            await asyncio.sleep(wait)
            delay, attempt = delay * 2, attempt + 1
