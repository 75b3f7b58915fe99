"""The alert rules: valid for Prometheus (``promtool check rules``), and each alert fires
on the situation it names and stays silent on its look-alike (``promtool test rules``).

The same file is shipped in the chart (PrometheusRule) and loaded by compose's
Prometheus. promtool comes from Debian's ``prometheus`` package (``make install``
installs it where it can); without it these tests skip and say so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from helm_chart import CHART, render_chart

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "polyfhir.rules.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian package `prometheus`: apt-get install prometheus)",
)

GW = {"job": "gateway", "instance": "gw:8080"}
PS = {"job": "primary-store", "instance": "ps:8081"}
SI = {"job": "search-indexer", "instance": "si:8082"}


@dataclass(frozen=True)
class Case:
    """Input series (``selector -> promtool values``), when to look, and the expected
    alerts: (extra labels, summary) each; an empty list means "does not fire"."""

    alert: str
    series: dict[str, str]
    at: str
    fires: list[tuple[dict[str, str], str]] = field(default_factory=list)


def _sel(name: str, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def _lag(job: str, instance: str, bucket: str) -> dict[str, str]:
    """A sync-lag histogram whose observations (10 a minute) all fall into ``bucket``."""
    name = "polyfhir_search_sync_lag_seconds_bucket"
    return {
        _sel(name, job=job, instance=instance, le=le): "0+10x30"
        if float(le) >= float(bucket)
        else "0x30"
        for le in ("1", "30", "60", "+Inf")
    }


def _http(status: str, values: str) -> dict[str, str]:
    labels = {**GW, "service": "gateway", "route": "/fhir/{type}", "method": "GET"}
    return {_sel("polyfhir_http_request_seconds_count", status=status, **labels): values}


CASES = {
    "backlog growing": Case(
        "PolyfhirOutboxBacklogGrowing",
        {_sel("polyfhir_outbox_backlog", **PS): "0+20x30"},
        "25m",
        [(PS, "Outbox backlog growing on ps:8081 (500 rows)")],
    ),
    "backlog large but steady": Case(
        "PolyfhirOutboxBacklogGrowing", {_sel("polyfhir_outbox_backlog", **PS): "500x30"}, "25m"
    ),
    "backlog growing but small": Case(
        "PolyfhirOutboxBacklogGrowing", {_sel("polyfhir_outbox_backlog", **PS): "0+1x30"}, "25m"
    ),
    "relay failing": Case(
        "PolyfhirOutboxRelayFailing",
        {_sel("polyfhir_outbox_relay_failures_total", **PS): "0+1x30"},
        "20m",
        [(PS, "Outbox relay on ps:8081 keeps failing")],
    ),
    "relay failed once, long ago": Case(
        "PolyfhirOutboxRelayFailing",
        {_sel("polyfhir_outbox_relay_failures_total", **PS): "0 1x30"},
        "20m",
    ),
    "rows dead-lettered": Case(
        "PolyfhirOutboxDeadLettered",
        {_sel("polyfhir_outbox_dead_lettered_total", **PS): "0x10 2x20"},
        "20m",
        [(PS, "2 outbox row(s) dead-lettered on ps:8081")],
    ),
    "no row dead-lettered lately": Case(
        "PolyfhirOutboxDeadLettered",
        {_sel("polyfhir_outbox_dead_lettered_total", **PS): "3x40"},
        "30m",
    ),
    "consumer errors": Case(
        "PolyfhirConsumerErrors",
        {_sel("polyfhir_search_consumer_errors_total", error="ConnectionError", **SI): "0+1x30"},
        "20m",
        [(SI, "search-indexer on si:8082 keeps failing to apply batches")],
    ),
    "consumer recovered": Case(
        "PolyfhirConsumerErrors",
        {
            _sel(
                "polyfhir_search_consumer_errors_total", error="ConnectionError", **SI
            ): "0+1x5 5x25"
        },
        "30m",
    ),
    "indexer dead-lettered events": Case(
        "PolyfhirIndexerDeadLetters",
        {
            _sel(
                "polyfhir_graph_events_total",
                outcome="dead_lettered",
                job="graph-indexer",
                instance="gi:8083",
            ): "0x10 1x20",
        },
        "20m",
        [
            (
                {"job": "graph-indexer", "instance": "gi:8083"},
                "graph-indexer dead-lettered 1 event(s)",
            )
        ],
    ),
    "indexer applies, dead-letters nothing": Case(
        "PolyfhirIndexerDeadLetters",
        {
            _sel(
                "polyfhir_graph_events_total",
                outcome="applied",
                job="graph-indexer",
                instance="gi:8083",
            ): "0+50x30",
            _sel(
                "polyfhir_graph_events_total",
                outcome="dead_lettered",
                job="graph-indexer",
                instance="gi:8083",
            ): "0x30",
        },
        "20m",
    ),
    "sync lag over its bound": Case(
        "PolyfhirSyncLagHigh",
        _lag("search-indexer", "si:8082", "60"),
        "20m",
        [({"job": "search-indexer"}, "search-indexer: p95 sync lag 58.5s")],
    ),
    "sync lag within its bound": Case(
        "PolyfhirSyncLagHigh", _lag("search-indexer", "si:8082", "1"), "20m"
    ),
    "a 5xx answered": Case(
        "PolyfhirServerErrors",
        {**_http("500", "0x5 1x20"), **_http("200", "0+100x25")},
        "10m",
        [({"job": "gateway"}, "gateway answered 1 5xx in 10 minutes")],
    ),
    "only successes": Case("PolyfhirServerErrors", _http("200", "0+100x25"), "10m"),
    "5xx rate high": Case(
        "PolyfhirHighServerErrorRate",
        {**_http("500", "0+10x30"), **_http("200", "0+90x30")},
        "15m",
        [({"job": "gateway"}, "gateway: 10% of requests fail with 5xx")],
    ),
    "5xx rate low": Case(
        "PolyfhirHighServerErrorRate",
        {**_http("500", "0+1x30"), **_http("200", "0+199x30")},
        "15m",
    ),
    "backend unhealthy": Case(
        "PolyfhirBackendUnhealthy",
        {_sel("polyfhir_gateway_backend_state", backend="search", state="unhealthy", **GW): "1x10"},
        "8m",
        [({"backend": "search"}, "Backend search is unhealthy; the primary answers for it")],
    ),
    "backend healthy": Case(
        "PolyfhirBackendUnhealthy",
        {
            _sel(
                "polyfhir_gateway_backend_state", backend="search", state="unhealthy", **GW
            ): "0x10",
            _sel("polyfhir_gateway_backend_state", backend="search", state="healthy", **GW): "1x10",
        },
        "8m",
    ),
    "service down": Case(
        "PolyfhirServiceDown",
        {_sel("up", **GW): "0x5"},
        "3m",
        [(GW, "gateway on gw:8080 is down")],
    ),
    "services up, a foreign target down": Case(
        "PolyfhirServiceDown",
        {
            _sel("up", **GW): "1x5",
            _sel("up", job="search-indexer-elasticsearch", instance="x:1"): "0x5",
        },
        "3m",
    ),
}


def _rules() -> dict[str, dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return {r["alert"]: r for g in loaded["groups"] for r in g["rules"] if "alert" in r}


def _promtool_test(case: Case) -> dict[str, Any]:
    rule = _rules()[case.alert]
    expected = [
        {
            "exp_labels": {**labels, "severity": rule["labels"]["severity"]},
            "exp_annotations": {
                "summary": summary,
                "description": rule["annotations"]["description"],
            },
        }
        for labels, summary in case.fires
    ]
    return {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                "alert_rule_test": [
                    {"eval_time": case.at, "alertname": case.alert, "exp_alerts": expected}
                ],
            }
        ],
    }


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(
        [PROMTOOL or "promtool", "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    alerts = set(_rules())
    assert alerts == {c.alert for c in CASES.values() if c.fires}
    assert alerts == {c.alert for c in CASES.values() if not c.fires}
    documented = (ROOT / "docs" / "operations.md").read_text()
    assert [a for a in sorted(alerts) if f"`{a}`" not in documented] == []


@needs_promtool
@pytest.mark.parametrize("name", list(CASES))
def test_alert(name: str, tmp_path: Path) -> None:
    test_file = tmp_path / "alert.test.yml"
    test_file.write_text(yaml.safe_dump(_promtool_test(CASES[name])))
    done = subprocess.run(
        [PROMTOOL or "promtool", "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rule_watches_metrics_the_services_export(registered_metrics: dict[str, Any]) -> None:
    loaded = yaml.safe_load(RULES.read_text())
    recorded = {r["record"] for g in loaded["groups"] for r in g["rules"] if "record" in r}
    for group in loaded["groups"]:
        for rule in group["rules"]:
            expr = rule["expr"]
            patterns = re.findall(r'__name__=~"([^"]+)"', expr)
            for pattern in patterns:
                matched = [n for n in registered_metrics if re.fullmatch(pattern, n)]
                assert matched, f"{pattern} names no exported metric"
            plain = set(re.findall(r"\bpolyfhir[a-z0-9_:]*", re.sub(r'"[^"]*"', "", expr)))
            unknown = plain - set(registered_metrics) - recorded
            assert unknown == set(), f"{rule.get('alert') or rule.get('record')}: {unknown}"


def test_the_chart_ships_the_same_rules() -> None:
    assert (CHART / "files" / "polyfhir.rules.yml").read_text() == RULES.read_text()
    rendered = render_chart({"prometheusRule": {"enabled": True}})
    (rule,) = rendered.of_kind("PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
    # the job label the rules select on is the component name
    for monitor in render_chart({"serviceMonitor": {"enabled": True}}).of_kind("ServiceMonitor"):
        assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/component"


def test_compose_prometheus_loads_the_rules_and_scrapes_jobs_by_service_name(
    compose_services: dict[str, Any],
) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    mounts = compose_services["prometheus"]["volumes"]
    assert any(m.startswith("./deploy/prometheus/rules:/etc/prometheus/rules") for m in mounts)
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"gateway", "primary-store", "search-indexer", "graph-indexer"} <= jobs
