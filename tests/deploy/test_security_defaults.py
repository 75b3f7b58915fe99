"""Deployments never run the API open: compose defaults to tokens from the dev
issuer, the Helm chart to a real issuer (and cannot be set to ``off``), and the
Ingress exposes the FHIR base only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

pytestmark = pytest.mark.unit


def test_compose_gateway_requires_tokens(
    compose_services: dict[str, dict[str, Any]], env_of: Callable[[dict[str, Any]], dict[str, str]]
) -> None:
    env = env_of(compose_services["gateway"])
    assert env["POLYFHIR_AUTH"] == "${POLYFHIR_AUTH:-dev}"
    assert env["POLYFHIR_AUTH_DEV_DIR"].startswith("/app/data/")
    mounts = compose_services["gateway"]["volumes"]
    assert any(str(m).startswith("gateway-data:/app/data") for m in mounts)


def test_helm_defaults_to_jwks_and_rejects_off(
    values: dict[str, Any], repo_root: Path, helm_template: Callable[[str], str]
) -> None:
    assert values["gateway"]["auth"]["mode"] == "jwks"
    schema = orjson.loads((repo_root / "helm/polyfhir/values.schema.json").read_bytes())
    jsonschema.validate(values, schema)
    values["gateway"]["auth"]["mode"] = "off"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(values, schema)
    gateway_env = helm_template("polyfhir.env.gateway")
    for name in ("POLYFHIR_AUTH", "POLYFHIR_AUTH_ISSUER", "POLYFHIR_AUTH_AUDIENCE"):
        assert f"name: {name}\n" in gateway_env
    assert 'required "gateway.auth.jwksUrl' in gateway_env


def test_ingress_exposes_the_fhir_base_only(values: dict[str, Any]) -> None:
    for host in values["gateway"]["ingress"]["hosts"]:
        assert host["paths"] == ["/fhir"]
