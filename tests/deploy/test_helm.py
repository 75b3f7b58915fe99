"""helm/polyfhir: values a user sets map onto settings the services read.

No helm binary runs here, so templates are read, not rendered: the checks are
on values.yaml, Chart.yaml and the names the templates set.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from polyfhir_core.config import parse_config

pytestmark = pytest.mark.unit

ENV_NAME = re.compile(r"- name: (POLYFHIR_[A-Z0-9_]+)")


def _templates(repo_root: Path) -> dict[str, str]:
    folder = repo_root / "helm/polyfhir/templates"
    return {path.name: path.read_text() for path in folder.iterdir()}


def _components(helm_template: Callable[[str], str]) -> dict[str, str]:
    return dict(yaml.safe_load(helm_template("polyfhir.components")))


def test_chart_deploys_every_service(
    helm_template: Callable[[str], str], services: dict[str, Any], values: dict[str, Any]
) -> None:
    components = _components(helm_template)
    assert set(components) == set(services)
    for component, key in components.items():
        settings = values[key]
        assert settings["enabled"] is True, component
        assert settings["image"]["repository"] == f"polyfhir/{component}"
        assert settings["port"] == settings["service"]["port"] == services[component].default_port
        assert settings["resources"]["requests"], component
        assert {"enabled", "minReplicas", "maxReplicas"} <= set(settings["autoscaling"])
        assert {"enabled", "minAvailable"} <= set(settings["pdb"])


def test_chart_version_and_app_version(repo_root: Path, services: dict[str, Any]) -> None:
    chart = yaml.safe_load((repo_root / "helm/polyfhir/Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "polyfhir"
    versions = {
        tomllib.loads((p.directory / "pyproject.toml").read_text())["project"]["version"]
        for p in services.values()
    }
    assert versions == {chart["appVersion"]}  # the default image tag


def test_every_polyfhir_variable_is_a_setting_of_its_service(
    repo_root: Path,
    helm_template: Callable[[str], str],
    services: dict[str, Any],
    values: dict[str, Any],
) -> None:
    common = set(ENV_NAME.findall(_templates(repo_root)["deployment.yaml"]))
    assert {"POLYFHIR_HOST", "POLYFHIR_PORT", "POLYFHIR_LOG_LEVEL"} <= common
    for component, key in _components(helm_template).items():
        variables = common | set(ENV_NAME.findall(helm_template(f"polyfhir.env.{component}")))
        variables |= set(values[key]["env"])
        unknown = variables - services[component].env_names
        assert unknown == set(), f"{component}: no setting for {unknown}"


def test_probes_use_the_operational_endpoints(repo_root: Path) -> None:
    deployment = _templates(repo_root)["deployment.yaml"]
    probes = dict(
        re.findall(r"(\w+Probe):\s*\n\s*httpGet: \{path: (/\w+), port: http\}", deployment)
    )
    assert probes == {
        "startupProbe": "/livez",
        "livenessProbe": "/livez",
        "readinessProbe": "/readyz",
    }


def test_optional_resources_are_toggled_by_values(repo_root: Path) -> None:
    templates = _templates(repo_root)
    assert "$values.autoscaling.enabled" in templates["hpa.yaml"]
    assert "$values.pdb.enabled" in templates["pdb.yaml"]
    assert templates["servicemonitor.yaml"].startswith("{{- if .Values.serviceMonitor.enabled }}")
    assert templates["prometheusrule.yaml"].startswith("{{- if .Values.prometheusRule.enabled }}")
    assert "if and .enabled $.Values.gateway.enabled" in templates["ingress.yaml"]
    assert "NOTES.txt" in templates


def test_composite_config_values_validate(values: dict[str, Any]) -> None:
    config = parse_config(values["compositeConfig"])
    assert list(config.warnings()) == []
    (search,) = [b for b in config.backends if b.role.value == "search"]
    # the gateway talks to this release's search-indexer Service
    assert search.options["service_url"] == (
        'http://{{ include "polyfhir.fullname" . }}-search-indexer:'
        "{{ .Values.searchIndexer.service.port }}"
    )


def test_gateway_mounts_the_composite_config_where_it_reads_it(
    repo_root: Path, helm_template: Callable[[str], str]
) -> None:
    env = helm_template("polyfhir.env.gateway")
    assert "POLYFHIR_CONFIG_FILE\n  value: /etc/polyfhir/config.yaml" in env
    templates = _templates(repo_root)
    assert "mountPath: /etc/polyfhir" in templates["deployment.yaml"]
    assert "config.yaml: |" in templates["configmap.yaml"]
    assert "tpl (toYaml .Values.compositeConfig) ." in templates["configmap.yaml"]


def test_secrets_are_referenced_never_inlined(
    values: dict[str, Any], helm_template: Callable[[str], str]
) -> None:
    assert "password" not in {k.lower() for k in values["postgresql"]}
    assert set(values["postgresql"]["passwordSecret"]) == {"name", "key"}
    assert set(values["search"]["urlSecret"]) == {"name", "key"}
    primary = helm_template("polyfhir.env.primary-store")
    assert "name: PGPASSWORD\n  valueFrom:\n    secretKeyRef:" in primary
    # the DSN carries no password: asyncpg takes it from PGPASSWORD
    assert "postgresql://{{ .user }}@{{ .host }}" in helm_template("polyfhir.postgresqlUrl")


def test_bulk_s3_credentials_come_from_a_secret(
    values: dict[str, Any], helm_template: Callable[[str], str]
) -> None:
    assert values["bulk"]["storage"] == "local"
    secret = values["bulk"]["s3"]["credentialsSecret"]
    assert set(secret) == {"name", "accessKeyIdKey", "secretAccessKeyKey"}
    gateway = helm_template("polyfhir.env.gateway")
    for variable in ("POLYFHIR_BULK_S3_ACCESS_KEY_ID", "POLYFHIR_BULK_S3_SECRET_ACCESS_KEY"):
        assert f"name: {variable}\n  valueFrom:\n    secretKeyRef:" in gateway


def _values_schema(repo_root: Path) -> jsonschema.protocols.Validator:
    schema = orjson.loads((repo_root / "helm/polyfhir/values.schema.json").read_bytes())
    return jsonschema.Draft7Validator(schema)


def test_values_follow_the_chart_schema(repo_root: Path, values: dict[str, Any]) -> None:
    assert [error.message for error in _values_schema(repo_root).iter_errors(values)] == []


def test_helm_rejects_a_misspelt_value(repo_root: Path, values: dict[str, Any]) -> None:
    # helm install/lint validate values against values.schema.json
    misspelt = {**values, "primaryStore": {**values["primaryStore"], "replica": 3}}
    errors = [error.message for error in _values_schema(repo_root).iter_errors(misspelt)]
    assert any("'replica' was unexpected" in message for message in errors)
    wrong_kind = {**values, "search": {**values["search"], "kind": "solr"}}
    assert list(_values_schema(repo_root).iter_errors(wrong_kind))
