"""The provisioned Grafana dashboard only asks for metrics and labels the services register."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from helm_chart import CHART, render_chart

pytestmark = pytest.mark.unit

METRIC = re.compile(r"\b(polyfhir_[a-z0-9_]+)\b")
BY = re.compile(r"\bby\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^}]*)\}")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
PROMETHEUS_LABELS = {"job", "instance"}  # added by Prometheus to every scraped sample


def _dashboard(repo_root: Path) -> dict[str, Any]:
    return dict(orjson.loads((repo_root / "deploy/grafana/dashboards/polyfhir.json").read_bytes()))


def _queries(dashboard: dict[str, Any]) -> list[str]:
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    queries = [target["expr"] for panel in panels for target in panel["targets"]]
    queries += [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return queries


def _labels_used(query: str) -> set[str]:
    labels = {label.strip() for group in BY.findall(query) for label in group.split(",")}
    for matchers in MATCHERS.findall(query):
        labels |= set(MATCHER_LABEL.findall(matchers))
    return labels - {""}


def test_dashboard_names_only_registered_metrics(
    repo_root: Path, registered_metrics: dict[str, Any]
) -> None:
    queries = _queries(_dashboard(repo_root))
    used = {name for query in queries for name in METRIC.findall(query)}
    assert used - set(registered_metrics) == set()
    # the overview covers what an operator asks first
    for family in (
        "polyfhir_http_request_seconds",
        "polyfhir_outbox_backlog",
        "polyfhir_outbox_events_published_total",
        "polyfhir_search_events_total",
        "polyfhir_search_sync_lag_seconds",
        "polyfhir_graph_events_total",
        "polyfhir_graph_sync_lag_seconds",
        "polyfhir_terminology_events_total",
        "polyfhir_terminology_sync_lag_seconds",
        "polyfhir_gateway_route_decisions_total",
        "polyfhir_gateway_backend_state",
        "polyfhir_storage_operation_seconds",
        "polyfhir_db_pool_in_use",
        "polyfhir_db_pool_max_size",
    ):
        assert any(name.startswith(family) for name in used), family


def test_dashboard_groups_and_filters_by_labels_the_metrics_have(
    repo_root: Path, registered_metrics: dict[str, Any]
) -> None:
    for query in _queries(_dashboard(repo_root)):
        metrics = [registered_metrics[name] for name in METRIC.findall(query)]
        known = set(PROMETHEUS_LABELS)
        for name, metric in zip(METRIC.findall(query), metrics, strict=True):
            known |= set(metric.labels) | ({"le"} if name.endswith("_bucket") else set())
        assert _labels_used(query) - known == set(), query


def test_every_query_uses_the_datasource_variable(repo_root: Path) -> None:
    """No fixed uid: in Kubernetes the Prometheus datasource has whatever uid Grafana gave it."""
    provisioned = yaml.safe_load(
        (repo_root / "deploy/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )
    (datasource,) = provisioned["datasources"]
    dashboard = _dashboard(repo_root)
    variable = dashboard["templating"]["list"][0]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    assert variable["current"]["value"] == datasource["uid"]  # compose's, preselected
    assert (
        "polyfhir-prometheus"
        not in orjson.dumps({k: v for k, v in dashboard.items() if k != "templating"}).decode()
    )
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    for query_variable in dashboard["templating"]["list"][1:]:
        assert query_variable["datasource"]["uid"] == "${datasource}"


def test_services_up_names_no_job(repo_root: Path) -> None:
    (panel,) = [p for p in _dashboard(repo_root)["panels"] if p["title"].startswith("Services up")]
    (target,) = panel["targets"]
    assert "job=" not in target["expr"].replace(" ", "")
    assert target["expr"].startswith("max by (job, instance) (up and on (job, instance)")


def test_the_chart_ships_the_dashboard_for_the_grafana_sidecar(repo_root: Path) -> None:
    shipped = repo_root / "deploy/grafana/dashboards/polyfhir.json"
    assert (CHART / "files" / "dashboards" / "polyfhir.json").read_bytes() == shipped.read_bytes()
    default = render_chart().of_kind("ConfigMap")
    assert [m for m in default if m["metadata"]["name"].endswith("-dashboard")] == []  # off
    rendered = render_chart(
        {"grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "FHIR"}}}
    )
    dashboard = rendered.named("ConfigMap", "-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "FHIR"}
    assert orjson.loads(dashboard["data"]["polyfhir.json"]) == orjson.loads(shipped.read_bytes())


def test_grafana_loads_the_dashboard_folder(
    repo_root: Path, compose_services: dict[str, dict[str, Any]]
) -> None:
    provider = yaml.safe_load(
        (repo_root / "deploy/grafana/provisioning/dashboards/polyfhir.yaml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    mounts = compose_services["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
