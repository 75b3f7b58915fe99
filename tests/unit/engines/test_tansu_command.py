"""Tansu advertises the port clients must use: its own, or a TLS terminator's in front of it."""

from __future__ import annotations

from polyfhir_engines.tansu import LocalKafka


def _flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_tansu_advertises_the_tls_port() -> None:
    command = LocalKafka(port=19092, advertised_port=19093).command()
    assert _flag(command, "--listener-url") == "tcp://127.0.0.1:19092"
    assert _flag(command, "--advertised-listener-url") == "tcp://127.0.0.1:19093"


def test_tansu_advertises_its_own_port_by_default() -> None:
    command = LocalKafka(port=19092).command()
    assert _flag(command, "--advertised-listener-url") == "tcp://127.0.0.1:19092"
