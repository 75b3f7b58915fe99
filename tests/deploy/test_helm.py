"""helm/polyfhir rendered by Helm's own engine: values a user sets map onto settings the services read.

The chart is rendered with ``helm-python-sdk`` (the Helm v4 Go SDK behind a C ABI, no
``helm`` binary), for the default values and for ``ci/everything-values.yaml``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from helm_chart import CHART, RenderedChart, render_chart
from polyfhir_core.config import CompositeConfig, parse_config

pytestmark = pytest.mark.unit

COMPONENTS = {
    "gateway": "gateway",
    "primary-store": "primaryStore",
    "search-indexer": "searchIndexer",
    "graph-indexer": "graphIndexer",
    "terminology-indexer": "terminologyIndexer",
}


@pytest.fixture(scope="module")
def default_render() -> RenderedChart:
    return render_chart()


@pytest.fixture(scope="module")
def everything_render(everything_values: dict[str, Any]) -> RenderedChart:
    return render_chart(everything_values)


def test_chart_deploys_every_service(
    default_render: RenderedChart, services: dict[str, Any], values: dict[str, Any]
) -> None:
    assert set(COMPONENTS) == set(services)
    for component, key in COMPONENTS.items():
        container = default_render.container(component)
        assert container["image"] == f"polyfhir/{component}:0.1.0"
        assert container["ports"][0]["containerPort"] == services[component].default_port
        assert container["resources"] == values[key]["resources"]
        service = default_render.named("Service", f"-{component}")
        assert service["spec"]["ports"][0]["port"] == services[component].default_port


def test_chart_version_and_app_version(repo_root: Path, services: dict[str, Any]) -> None:
    chart = yaml.safe_load((repo_root / "helm/polyfhir/Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "polyfhir"
    versions = {
        tomllib.loads((p.directory / "pyproject.toml").read_text())["project"]["version"]
        for p in services.values()
    }
    assert versions == {chart["appVersion"]}  # the default image tag


@pytest.mark.parametrize("which", ["default_render", "everything_render"])
def test_every_polyfhir_variable_is_a_setting_of_its_service(
    which: str, request: pytest.FixtureRequest, services: dict[str, Any]
) -> None:
    rendered: RenderedChart = request.getfixturevalue(which)
    for component in COMPONENTS:
        variables = {
            name
            for name in rendered.env(component)
            # POLYFHIR_CONFIG__* override the composite configuration, not a setting
            if name.startswith("POLYFHIR_") and not name.startswith("POLYFHIR_CONFIG__")
        }
        assert {"POLYFHIR_HOST", "POLYFHIR_PORT", "POLYFHIR_LOG_LEVEL"} <= variables
        unknown = variables - services[component].env_names
        assert unknown == set(), f"{component}: no setting for {unknown}"


@pytest.mark.parametrize("which", ["default_render", "everything_render"])
def test_every_service_loads_its_settings_from_the_rendered_env(
    which: str,
    request: pytest.FixtureRequest,
    services: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: RenderedChart = request.getfixturevalue(which)
    for component in COMPONENTS:
        with monkeypatch.context() as env:
            for name, value in rendered.env(component).items():
                # Secrets stand in as a placeholder; the config file is read later
                env.setenv(name, value if isinstance(value, str) else "from-a-secret")
            settings = services[component].settings()
        assert settings.port == services[component].default_port


def test_kafka_security_and_certificates_reach_every_kafka_client(
    everything_render: RenderedChart,
) -> None:
    for component in ("primary-store", "search-indexer", "graph-indexer"):
        env = everything_render.env(component)
        assert env["POLYFHIR_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["POLYFHIR_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        for variable, key in (("USERNAME", "username"), ("PASSWORD", "password")):
            assert env[f"POLYFHIR_KAFKA_SASL_{variable}"] == {
                "secretKeyRef": {"name": "polyfhir-kafka", "key": key}
            }
        mounts = {
            m["mountPath"]: m["name"]
            for m in everything_render.container(component)["volumeMounts"]
        }
        ca = env["POLYFHIR_KAFKA_SSL_CA_FILE"]
        assert mounts[ca.rsplit("/", 1)[0]] == "kafka-ca"
        assert mounts[env["POLYFHIR_KAFKA_SSL_CERT_FILE"].rsplit("/", 1)[0]] == "kafka-client"
        pod = everything_render.named("Deployment", f"-{component}")["spec"]["template"]["spec"]
        secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert secrets["kafka-ca"] == "polyfhir-kafka-ca"
    assert "POLYFHIR_KAFKA_SECURITY_PROTOCOL" not in everything_render.env("gateway")
    # the database CA reaches the primary-store and the migrate Job, not the indexers
    job = everything_render.named("Job", "-migrate")["spec"]["template"]["spec"]
    assert {"name": "postgresql-ca", "secret": {"secretName": "polyfhir-postgres-ca"}} in job[
        "volumes"
    ]
    assert "postgresql-ca" not in str(everything_render.named("Deployment", "-search-indexer"))


def test_sasl_without_credentials_does_not_render() -> None:
    with pytest.raises(helm_python.HelmRenderError, match=r"credentialsSecret\.name is required"):
        render_chart({"kafka": {"security": {"protocol": "SASL_SSL", "saslMechanism": "PLAIN"}}})


def test_probes_use_the_operational_endpoints(default_render: RenderedChart) -> None:
    for component in COMPONENTS:
        container = default_render.container(component)
        paths = {
            probe: container[probe]["httpGet"]["path"]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        assert paths == {
            "startupProbe": "/livez",
            "livenessProbe": "/livez",
            "readinessProbe": "/readyz",
        }


def test_optional_resources_are_off_by_default_and_on_when_enabled(
    default_render: RenderedChart, everything_render: RenderedChart
) -> None:
    def kinds(rendered: RenderedChart) -> dict[str, int]:
        counted: dict[str, int] = {}
        for manifest in rendered.manifests:
            counted[manifest["kind"]] = counted.get(manifest["kind"], 0) + 1
        return counted

    default = kinds(default_render)
    assert default["Deployment"] == default["Service"] == 5
    assert default["PodDisruptionBudget"] == 2  # gateway and primary-store
    for kind in ("HorizontalPodAutoscaler", "Ingress", "ServiceMonitor", "PrometheusRule"):
        assert kind not in default
    everything = kinds(everything_render)
    assert everything["HorizontalPodAutoscaler"] == everything["ServiceMonitor"] == 5
    assert everything["PodDisruptionBudget"] == 5
    assert everything["Ingress"] == everything["PrometheusRule"] == 1
    for deployment in everything_render.of_kind("Deployment"):
        assert "replicas" not in deployment["spec"]  # the HPA owns the count
    assert "NOTES.txt" in {Path(path).name for path in default_render.files}


def test_a_disabled_service_is_not_deployed() -> None:
    rendered = render_chart({"graphIndexer": {"enabled": False}})
    names = {m["metadata"]["name"] for m in rendered.of_kind("Deployment")}
    assert names == {f"fhir-polyfhir-{c}" for c in COMPONENTS if c != "graph-indexer"}


def test_gateway_mounts_the_composite_config_where_it_reads_it(
    default_render: RenderedChart,
) -> None:
    assert default_render.env("gateway")["POLYFHIR_CONFIG_FILE"] == "/etc/polyfhir/config.yaml"
    deployment = default_render.named("Deployment", "-gateway")
    pod = deployment["spec"]["template"]["spec"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config"]
    assert mount["mountPath"] == "/etc/polyfhir"
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    config_map = default_render.named("ConfigMap", "-config")
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    _composite(default_render)
    # the gateway's pods roll when the configuration changes
    assert "checksum/config" in deployment["spec"]["template"]["metadata"]["annotations"]


def _composite(rendered: RenderedChart) -> CompositeConfig:
    config_map = rendered.named("ConfigMap", "-config")
    config = parse_config(yaml.safe_load(config_map["data"]["config.yaml"]))
    assert list(config.warnings()) == []
    return config


def test_composite_config_is_derived_from_the_engine_values() -> None:
    config = _composite(
        render_chart(
            {
                "postgresql": {"host": "pg.db", "database": "fhir", "sslmode": "require"},
                "search": {"kind": "elasticsearch", "url": "https://es.search:9200"},
                "graph": {"kind": "falkordb", "url": "redis://falkordb:6379"},
            }
        )
    )
    backends = {b.id: (b.role.value, b.kind.value, b.url) for b in config.backends}
    assert backends == {
        "primary": (
            "primary",
            "postgresql",
            "postgresql://polyfhir@pg.db:5432/fhir?sslmode=require",
        ),
        "search": ("search", "elasticsearch", "https://es.search:9200"),
        "graph": ("graph", "falkordb", "redis://falkordb:6379"),
        "terminology": (
            "terminology",
            "postgresql",
            "postgresql://polyfhir@pg.db:5432/fhir?sslmode=require",
        ),
    }
    by_id = {b.id: b for b in config.backends}
    assert by_id["search"].options["service_url"] == "http://fhir-polyfhir-search-indexer:8082"
    assert by_id["graph"].options["service_url"] == "http://fhir-polyfhir-graph-indexer:8083"
    assert (
        by_id["terminology"].options["service_url"]
        == "http://fhir-polyfhir-terminology-indexer:8084"
    )
    assert [(r.name, r.target, r.fallback) for r in config.routing] == [
        ("full-text", "search", "primary")
    ]


def test_without_the_search_indexer_nothing_routes_full_text_to_it() -> None:
    config = _composite(render_chart({"searchIndexer": {"enabled": False}}))
    assert {b.id for b in config.backends} == {"primary", "graph", "terminology"}
    assert config.routing == ()
    # hybrid would wait for a search index that is not there
    assert config.sync.mode.kind == "asynchronous"


def test_without_the_graph_indexer_there_is_no_graph_backend() -> None:
    config = _composite(render_chart({"graphIndexer": {"enabled": False}}))
    assert {b.id for b in config.backends} == {"primary", "search", "terminology"}


def test_without_the_terminology_indexer_there_is_no_terminology_backend() -> None:
    config = _composite(render_chart({"terminologyIndexer": {"enabled": False}}))
    assert {b.id for b in config.backends} == {"primary", "search", "graph"}


def test_composite_config_takes_extra_rules_and_backends_from_values() -> None:
    extra = {
        "compositeConfig": {
            "routing": [
                {
                    "name": "chains",
                    "match": {"features": ["chain"]},
                    "target": "graph",
                    "fallback": "primary",
                }
            ],
            "extraBackends": [
                {
                    "id": "standby",
                    "role": "primary",
                    "kind": "postgresql",
                    "url": "postgresql://standby/fhir",
                    "enabled": False,
                }
            ],
        }
    }
    config = _composite(render_chart(extra))
    assert [r.name for r in config.routing] == ["full-text", "chains"]
    assert [b.id for b in config.backends] == [
        "primary",
        "search",
        "graph",
        "terminology",
        "standby",
    ]


def test_secrets_are_referenced_never_inlined(
    values: dict[str, Any], everything_render: RenderedChart
) -> None:
    assert "password" not in {k.lower() for k in values["postgresql"]}
    primary = everything_render.env("primary-store")
    assert primary["PGPASSWORD"] == {
        "secretKeyRef": {"name": "polyfhir-postgres", "key": "password"}
    }
    # the DSN carries no password: asyncpg takes it from PGPASSWORD
    assert primary["POLYFHIR_PRIMARY_URL"] == (
        "postgresql://polyfhir@pg.db.svc:5432/polyfhir?sslmode=verify-full"
        "&sslrootcert=/etc/polyfhir/tls/postgresql/ca.crt"
    )
    search = everything_render.env("search-indexer")
    assert search["POLYFHIR_SEARCH_ENGINE_URL"] == {
        "secretKeyRef": {"name": "polyfhir-search", "key": "url"}
    }
    assert "secretKeyRef" in everything_render.env("graph-indexer")["POLYFHIR_NEO4J_PASSWORD"]
    for secret in everything_render.of_kind("Secret"):
        pytest.fail(f"the chart renders a Secret: {secret['metadata']['name']}")


def test_bulk_s3_credentials_come_from_a_secret(
    default_render: RenderedChart, everything_render: RenderedChart
) -> None:
    assert default_render.env("gateway")["POLYFHIR_BULK_STORAGE"] == "local"
    gateway = everything_render.env("gateway")
    assert gateway["POLYFHIR_BULK_STORAGE"] == "s3"
    for variable in ("POLYFHIR_BULK_S3_ACCESS_KEY_ID", "POLYFHIR_BULK_S3_SECRET_ACCESS_KEY"):
        assert gateway[variable]["secretKeyRef"]["name"] == "polyfhir-s3"


def test_values_follow_the_chart_schema(
    values: dict[str, Any], everything_values: dict[str, Any]
) -> None:
    chart = helm_python.Chart.load(CHART)
    chart.validate_schema(values)
    chart.validate_schema(everything_values)


def test_helm_rejects_a_misspelt_value(values: dict[str, Any]) -> None:
    chart = helm_python.Chart.load(CHART)
    misspelt = {**values, "primaryStore": {**values["primaryStore"], "replica": 3}}
    with pytest.raises(helm_python.HelmValuesError, match="replica"):
        chart.validate_schema(misspelt)
    with pytest.raises(helm_python.HelmError):
        render_chart({"search": {"kind": "solr"}})


def test_jwks_mode_without_an_issuer_does_not_render(values: dict[str, Any]) -> None:
    chart = helm_python.Chart.load(CHART)
    with pytest.raises(helm_python.HelmRenderError, match=r"gateway\.auth\.issuer is required"):
        chart.render(values, name="fhir")


def test_migrations_run_as_a_pre_install_and_pre_upgrade_job(
    everything_render: RenderedChart,
) -> None:
    job = everything_render.named("Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(annotations["helm.sh/hook-weight"]) < 0
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    assert job["spec"]["backoffLimit"] == 2
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["command"] == ["polyfhir-primary-store", "migrate"]
    # the same image, database and Secrets as the primary-store
    assert container["image"] == everything_render.container("primary-store")["image"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    primary = everything_render.env("primary-store")
    for name in ("POLYFHIR_PRIMARY_URL", "PGPASSWORD"):
        assert env[name] == primary[name]


def test_without_migrations_there_is_no_job() -> None:
    assert render_chart({"migrations": {"enabled": False}}).of_kind("Job") == []


def test_probe_timings_come_from_values(default_render: RenderedChart) -> None:
    startup = default_render.container("primary-store")["startupProbe"]
    # migrations run in the Job: 30 s to answer /livez
    assert startup["periodSeconds"] * startup["failureThreshold"] == 30
    slower = render_chart({"primaryStore": {"probes": {"startup": {"failureThreshold": 60}}}})
    assert slower.container("primary-store")["startupProbe"]["failureThreshold"] == 60
    assert slower.container("gateway")["startupProbe"]["failureThreshold"] == 15


def test_the_public_base_url_follows_the_ingress(
    default_render: RenderedChart, everything_render: RenderedChart
) -> None:
    assert "POLYFHIR_BASE_URL" not in default_render.env("gateway")
    # the everything values: an Ingress for fhir.example.org with TLS for it
    assert everything_render.env("gateway")["POLYFHIR_BASE_URL"] == "https://fhir.example.org/fhir"
    plain = render_chart({"gateway": {"ingress": {"enabled": True}}})
    assert plain.env("gateway")["POLYFHIR_BASE_URL"] == "http://fhir.example.org/fhir"
    fixed = render_chart(
        {"gateway": {"ingress": {"enabled": True}, "publicBaseUrl": "https://api.example.org/r4/"}}
    )
    assert fixed.env("gateway")["POLYFHIR_BASE_URL"] == "https://api.example.org/r4"


def test_forwarded_headers_are_trusted_only_from_configured_proxies(
    default_render: RenderedChart,
) -> None:
    assert "POLYFHIR_FORWARDED_ALLOW_IPS" not in default_render.env("gateway")
    trusting = render_chart({"gateway": {"forwardedAllowIps": "10.0.0.0/8"}})
    assert trusting.env("gateway")["POLYFHIR_FORWARDED_ALLOW_IPS"] == "10.0.0.0/8"


def test_admin_and_metrics_are_on_the_gateways_admin_port(
    default_render: RenderedChart, values: dict[str, Any]
) -> None:
    port = values["gateway"]["adminPort"]
    container = default_render.container("gateway")
    assert {"name": "admin", "containerPort": port, "protocol": "TCP"} in container["ports"]
    assert default_render.env("gateway")["POLYFHIR_ADMIN_PORT"] == str(port)
    service = default_render.named("Service", "-gateway")
    assert {"name": "admin", "port": port, "targetPort": "admin", "protocol": "TCP"} in service[
        "spec"
    ]["ports"]
    pod = default_render.named("Deployment", "-gateway")["spec"]["template"]["metadata"]
    assert pod["annotations"]["prometheus.io/port"] == str(port)
    everything = render_chart({"serviceMonitor": {"enabled": True}})
    (endpoint,) = everything.named("ServiceMonitor", "-gateway")["spec"]["endpoints"]
    assert endpoint["port"] == "admin"
    for component in set(COMPONENTS) - {"gateway"}:  # one port: metrics where the API is
        assert "POLYFHIR_ADMIN_PORT" not in default_render.env(component)
        (other,) = everything.named("ServiceMonitor", f"-{component}")["spec"]["endpoints"]
        assert other["port"] == "http"


def test_without_an_admin_port_everything_is_on_the_api_port() -> None:
    rendered = render_chart({"gateway": {"adminPort": None}})
    assert "POLYFHIR_ADMIN_PORT" not in rendered.env("gateway")
    assert [p["name"] for p in rendered.container("gateway")["ports"]] == ["http"]
