"""docker-compose.yml: a stack that starts in order, with settings the services actually read."""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import orjson
import pytest
import yaml

from deploy.conftest import COMPOSE_STACKS, load_compose
from polyfhir_bus.security import KafkaSecuritySettings
from polyfhir_core.config import load_config

pytestmark = pytest.mark.unit

Services = dict[str, dict[str, Any]]
EnvOf = Callable[[dict[str, Any]], dict[str, str]]


def _compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return dict(orjson.loads((vendor / "compose-spec.json").read_bytes()))


def _problems(document: dict[str, Any]) -> list[str]:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert _problems(compose) == []


def test_the_schema_check_catches_a_misspelt_key(compose: dict[str, Any]) -> None:
    services = dict(compose["services"])
    services["gateway"] = {**services["gateway"], "healthchek": {}}
    assert any("healthchek" in problem for problem in _problems({**compose, "services": services}))


def _one_shot(service: dict[str, Any]) -> bool:
    """A task that runs to completion (``restart: "no"``), like the migrate service."""
    return service.get("restart") == "no"


def test_every_service_has_a_healthcheck(compose_services: Services) -> None:
    missing = [
        name
        for name, s in compose_services.items()
        if not s.get("healthcheck") and not _one_shot(s)
    ]
    assert missing == []


def test_the_primary_store_starts_after_the_migrations_succeeded(
    compose_services: Services, services: dict[str, Any], env_of: EnvOf
) -> None:
    migrate = compose_services["migrate"]
    assert set(env_of(migrate)) <= services["primary-store"].env_names
    assert migrate["command"] == ["polyfhir-primary-store", "migrate"]
    primary = compose_services["primary-store"]
    assert migrate["image"] == primary["image"] and migrate["build"] == primary["build"]
    assert env_of(migrate)["POLYFHIR_PRIMARY_URL"] == env_of(primary)["POLYFHIR_PRIMARY_URL"]
    assert primary["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_dependencies_wait_for_healthy_services_that_start_by_default(
    compose_services: Services,
) -> None:
    for name, service in compose_services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in compose_services, f"{name} depends on unknown {target}"
            if _one_shot(compose_services[target]):
                assert rule["condition"] == "service_completed_successfully", name
                continue
            assert rule["condition"] == "service_healthy", f"{name} -> {target}"
            assert compose_services[target].get("healthcheck"), f"{target} has no healthcheck"
            if not service.get("profiles"):
                # plain `docker compose up` must be able to start the dependency
                assert not compose_services[target].get("profiles"), f"{name} -> {target}"


def test_every_polyfhir_variable_is_a_setting_of_its_service(
    compose_services: Services, compose_polyfhir: dict[str, Any], env_of: EnvOf
) -> None:
    deployed = {package.directory.name for package in compose_polyfhir.values()}
    assert deployed == {
        "gateway",
        "primary-store",
        "search-indexer",
        "graph-indexer",
        "terminology-indexer",
    }
    for name, package in compose_polyfhir.items():
        variables = {v for v in env_of(compose_services[name]) if v.startswith("POLYFHIR_")}
        unknown = variables - package.env_names
        assert unknown == set(), f"{name}: {package.settings.__name__} has no field for {unknown}"


def test_services_listen_on_all_interfaces_at_their_port(
    compose_services: Services, compose_polyfhir: dict[str, Any], env_of: EnvOf
) -> None:
    for name, package in compose_polyfhir.items():
        env = env_of(compose_services[name])
        assert env["POLYFHIR_HOST"] == "0.0.0.0", name
        assert int(env["POLYFHIR_PORT"]) == package.default_port, name
        probe = " ".join(compose_services[name]["healthcheck"]["test"])
        assert f":{package.default_port}/readyz" in probe, name


def _service_at(compose_services: Services, env_of: EnvOf, url: str) -> str:
    """The compose service a URL names; it must listen on the URL's port."""
    parts = urlsplit(url)
    assert parts.hostname in compose_services, f"{url} names no compose service"
    env = env_of(compose_services[parts.hostname])
    assert parts.port == int(env["POLYFHIR_PORT"]), f"{url}: that service listens elsewhere"
    return parts.hostname


def _mounted_config(gateway: dict[str, Any], env_of: EnvOf, repo_root: Path) -> Path:
    target = env_of(gateway)["POLYFHIR_CONFIG_FILE"]
    for volume in gateway["volumes"]:
        source, mounted, *_ = volume.split(":")
        if mounted == target:
            return Path(repo_root / source)
    raise AssertionError(f"nothing is mounted at {target}")


def test_gateway_reaches_the_primary_store_and_the_search_indexer(
    compose_services: Services, env_of: EnvOf, repo_root: Path
) -> None:
    gateway = compose_services["gateway"]
    primary = env_of(gateway)["POLYFHIR_PRIMARY_STORE_URL"]
    assert _service_at(compose_services, env_of, primary) == "primary-store"
    config = load_config(_mounted_config(gateway, env_of, repo_root), env={})
    search = [b for b in config.backends if b.role.value == "search" and b.enabled]
    assert search
    for backend in search:
        indexer = _service_at(compose_services, env_of, backend.options["service_url"])
        assert indexer in gateway["depends_on"]
        engine = urlsplit(env_of(compose_services[indexer])["POLYFHIR_SEARCH_ENGINE_URL"])
        assert (engine.hostname, engine.port) == (urlsplit(backend.url).hostname, 9200)


def test_the_compose_composite_config_is_the_documented_layout(repo_root: Path) -> None:
    config = load_config(repo_root / "deploy/config/compose.yaml", env={})
    assert list(config.warnings()) == []
    layout = {b.id: (b.role.value, b.kind.value) for b in config.backends if b.enabled}
    assert layout == {
        "primary": ("primary", "postgresql"),
        "search": ("search", "opensearch"),
        "graph": ("graph", "neo4j"),
        "terminology": ("terminology", "postgresql"),
    }
    # hybrid: a write returns once the search index has it (read-your-writes for _text)
    assert [b.id for b in config.write_waits_for()] == ["search"]


def test_search_indexers_point_at_their_engine(compose_services: Services, env_of: EnvOf) -> None:
    indexers = 0
    for name, service in compose_services.items():
        env = env_of(service)
        if "POLYFHIR_SEARCH_ENGINE_URL" not in env:
            continue
        indexers += 1
        engine = urlsplit(env["POLYFHIR_SEARCH_ENGINE_URL"]).hostname
        assert engine == env["POLYFHIR_SEARCH_ENGINE_KIND"], name
        assert engine in service["depends_on"], name
        assert compose_services[engine].get("profiles") == service.get("profiles"), name
    assert indexers >= 2  # OpenSearch by default, Elasticsearch in its profile


def test_each_indexer_has_its_own_consumer_group(compose_services: Services, env_of: EnvOf) -> None:
    groups = [
        env_of(s)["POLYFHIR_CONSUMER_GROUP"]
        for s in compose_services.values()
        if "POLYFHIR_CONSUMER_GROUP" in env_of(s)
    ]
    assert len(groups) == len(set(groups)) >= 2


def test_prometheus_scrapes_every_service(
    compose_services: Services, compose_polyfhir: dict[str, Any], env_of: EnvOf, repo_root: Path
) -> None:
    prometheus = yaml.safe_load((repo_root / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        target
        for job in prometheus["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    for name in compose_polyfhir:
        env = env_of(compose_services[name])
        port = env.get("POLYFHIR_ADMIN_PORT", env["POLYFHIR_PORT"])  # /metrics lives there
        assert f"{name}:{port}" in targets
    mounts = compose_services["prometheus"]["volumes"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


def test_search_indexers_redeem_claim_checks_from_the_primary(
    compose_services: Services, env_of: EnvOf
) -> None:
    primary_port = env_of(compose_services["primary-store"])["POLYFHIR_PORT"]
    for name in ("search-indexer", "search-indexer-elasticsearch"):
        url = env_of(compose_services[name])["POLYFHIR_PRIMARY_STORE_URL"]
        assert url == f"http://primary-store:{primary_port}"


def test_every_kafka_client_creates_the_topic_alike(
    compose_services: Services, compose_polyfhir: dict[str, Any], env_of: EnvOf
) -> None:
    # whichever service starts first creates the topic: the partition count must agree
    counts = {}
    for name, package in compose_polyfhir.items():
        env = env_of(compose_services[name])
        if (
            "POLYFHIR_KAFKA_BOOTSTRAP" in env
            and "POLYFHIR_KAFKA_TOPIC_PARTITIONS" in package.env_names
        ):
            counts[name] = env.get("POLYFHIR_KAFKA_TOPIC_PARTITIONS")
    assert len(counts) >= 2 and None not in counts.values() and len(set(counts.values())) == 1


def test_compose_overlays_follow_the_compose_specification(repo_root: Path) -> None:
    overlays = sorted((repo_root / "deploy" / "compose").glob("*.yml"))
    assert overlays
    for overlay in overlays:
        assert _problems(yaml.safe_load(overlay.read_text())) == [], overlay.name


def _kafka_clients(services: Services, env_of: EnvOf) -> dict[str, dict[str, str]]:
    return {
        name: env_of(s) for name, s in services.items() if "POLYFHIR_KAFKA_BOOTSTRAP" in env_of(s)
    }


def test_with_the_sasl_overlay_every_kafka_client_authenticates_as_the_created_user(
    env_of: EnvOf,
) -> None:
    services = load_compose(*COMPOSE_STACKS["kafka-sasl"])["services"]
    clients = _kafka_clients(services, env_of)
    assert set(clients) >= {"primary-store", "search-indexer", "graph-indexer"}
    users = env_of(services["kafka-users"])
    broker = env_of(services["kafka"])
    listener, _, address = broker["KAFKA_ADVERTISED_LISTENERS"].partition("://")
    protocols = dict(
        p.split(":") for p in broker["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    command = " ".join(services["kafka-users"]["command"])
    for name, env in clients.items():
        assert env["POLYFHIR_KAFKA_BOOTSTRAP"] == address, name
        security = KafkaSecuritySettings.model_validate(
            {k.removeprefix("POLYFHIR_").lower(): v for k, v in env.items() if "_KAFKA_" in k}
        ).kafka_security()
        assert security.protocol == protocols[listener] == "SASL_PLAINTEXT", name
        mechanism = security.sasl_mechanism
        assert mechanism in broker["KAFKA_SASL_ENABLED_MECHANISMS"].split(","), name
        assert f"{mechanism}=[" in command, f"{name}: kafka-users creates no {mechanism} user"
        assert security.username == users["SERVICE_USER"], name
        assert env["POLYFHIR_KAFKA_SASL_PASSWORD"] == users["SERVICE_PASSWORD"], name
        after = services[name]["depends_on"]["kafka-users"]
        assert after == {"condition": "service_completed_successfully"}, name


def test_the_sasl_broker_reads_its_jaas_file_from_the_environment(env_of: EnvOf) -> None:
    kafka = load_compose(*COMPOSE_STACKS["kafka-sasl"])["services"]["kafka"]
    env = env_of(kafka)
    jaas = env["KAFKA_OPTS"].removeprefix("-Djava.security.auth.login.config=")
    script = kafka["command"][-1]
    assert f"cat > {jaas}" in script and script.rstrip().endswith("exec /etc/kafka/docker/run")
    assert "$${BROKER_ADMIN_PASSWORD}" in script  # expanded in the container, not by compose
    # apache/kafka writes every KAFKA_* variable into server.properties: no secret there
    assert not [k for k, v in env.items() if k.startswith("KAFKA_") and "password" in v.lower()]
    assert "--command-config" in " ".join(kafka["healthcheck"]["test"])
