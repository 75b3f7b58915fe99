"""stunnel's configuration in front of the test broker: TLS on its port forwarded to the
broker's, and a client certificate demanded only for mutual TLS."""

from __future__ import annotations

from pathlib import Path

from polyfhir_testing.stunnel import TlsIdentity, TlsTerminator


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
