"""The command lines behind a TLS Kafka: Tansu advertises the TLS terminator's port, and
stunnel's configuration asks for a client certificate only for mutual TLS."""

from __future__ import annotations

from pathlib import Path

from polyfhir_engines.stunnel import TlsIdentity, TlsTerminator
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


def _config(tmp_path: Path, client_ca: Path | None) -> dict[str, str]:
    identity = TlsIdentity(tmp_path / "server.pem", tmp_path / "server-key.pem", client_ca)
    text = TlsTerminator(19092, identity, tmp_path, port=19093).config()
    return {
        key.strip(): value.strip()
        for key, _, value in (line.partition("=") for line in text.splitlines())
    }


def test_stunnel_forwards_tls_to_the_broker(tmp_path: Path) -> None:
    config = _config(tmp_path, None)
    assert config["accept"] == "127.0.0.1:19093"
    assert config["connect"] == "127.0.0.1:19092"
    assert config["cert"] == str(tmp_path / "server.pem")
    assert config["foreground"] == "yes"
    assert "verify" not in config  # plain TLS: any client may connect


def test_stunnel_demands_a_client_certificate_for_mutual_tls(tmp_path: Path) -> None:
    config = _config(tmp_path, tmp_path / "ca.pem")
    assert config["verify"] == "2"
    assert config["CAfile"] == str(tmp_path / "ca.pem")
