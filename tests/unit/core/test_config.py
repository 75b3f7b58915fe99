"""The composite configuration: validation problems, warnings, loading and env overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from polyfhir_core.config import (
    CONFIG_FILE_VARIABLE,
    Asynchronous,
    BackendConfig,
    BackendKind,
    BackendRole,
    Capability,
    CompositeConfig,
    ConfigError,
    CostConfig,
    CostWeights,
    HealthConfig,
    Hybrid,
    QueryFeature,
    RetryConfig,
    RoutingRule,
    SyncConfig,
    Synchronous,
    default_config,
    load_config,
    parse_config,
    redact_url,
)

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "config"

PRIMARY: dict[str, Any] = {
    "id": "main",
    "role": "primary",
    "kind": "sqlite",
    "url": "sqlite:///a.db",
}
SEARCH: dict[str, Any] = {
    "id": "search",
    "role": "search",
    "kind": "opensearch",
    "url": "http://os:9200",
}
GRAPH: dict[str, Any] = {"id": "graph", "role": "graph", "kind": "neo4j", "url": "neo4j://n:7687"}


def build(*backends: dict[str, Any], **fields: Any) -> CompositeConfig:
    return CompositeConfig.model_validate({"backends": list(backends), **fields})


def problem_codes(*backends: dict[str, Any], **fields: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        build(*backends, **fields)
    return caught.value.codes


def warning_codes(config: CompositeConfig) -> list[str]:
    return [w.code for w in config.warnings()]


def rule(name: str, target: str, *features: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "target": target, "match": {"features": list(features)}, **extra}


# -- roles, kinds, capabilities --------------------------------------------------------


def test_roles_have_typical_capabilities() -> None:
    assert Capability.FULL_TEXT in BackendRole.SEARCH.typical_capabilities
    assert Capability.CRUD not in BackendRole.SEARCH.typical_capabilities
    assert Capability.REVERSE_CHAINING in BackendRole.GRAPH.typical_capabilities
    assert Capability.CODE_HIERARCHY in BackendRole.TERMINOLOGY.typical_capabilities
    assert {Capability.CRUD, Capability.TRANSACTIONS} <= BackendRole.PRIMARY.typical_capabilities
    assert not BackendRole.PRIMARY.is_secondary
    assert BackendRole.ARCHIVE.is_secondary


def test_kinds_declare_the_roles_they_can_play() -> None:
    assert BackendKind.POSTGRESQL.can_play(BackendRole.PRIMARY)
    assert BackendKind.SQLITE.can_play(BackendRole.TERMINOLOGY)
    assert not BackendKind.OPENSEARCH.can_play(BackendRole.PRIMARY)
    assert BackendKind.FALKORDB.roles == {BackendRole.GRAPH}
    assert BackendKind.S3.roles == {BackendRole.ARCHIVE}


def test_kind_from_url() -> None:
    assert BackendKind.from_url("postgresql://u@h/db") is BackendKind.POSTGRESQL
    assert BackendKind.from_url("postgres://u@h/db") is BackendKind.POSTGRESQL
    assert BackendKind.from_url("sqlite:///x.db") is BackendKind.SQLITE
    assert BackendKind.from_url("http://os:9200") is None  # OpenSearch or Elasticsearch
    assert BackendKind.from_url("x.db") is None


def test_capability_override_replaces_the_typical_set() -> None:
    backend = BackendConfig.model_validate({**GRAPH, "capabilities": ["chained_search"]})
    assert backend.effective_capabilities == {Capability.CHAINED_SEARCH}
    assert not backend.has(Capability.REVERSE_CHAINING)
    assert BackendConfig.model_validate(GRAPH).has(Capability.REVERSE_CHAINING)


def test_url_password_is_redacted_and_kept_out_of_repr() -> None:
    url = "postgresql://app:s3cret@db:5432/fhir"
    backend = BackendConfig.model_validate({**PRIMARY, "kind": "postgresql", "url": url})
    assert backend.redacted_url == "postgresql://app:***@db:5432/fhir"
    assert "s3cret" not in repr(backend)
    assert redact_url("http://os:9200") == "http://os:9200"


# -- structural validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (RetryConfig, {"initial_backoff_ms": 500, "max_backoff_ms": 100}),
        (RetryConfig, {"max_attempts": 0}),
        (RetryConfig, {"multiplier": 0.5}),
        (HealthConfig, {"timeout_ms": 6000, "check_interval_ms": 5000}),
        (HealthConfig, {"failure_threshold": 0}),
        (SyncConfig, {"batch_size": 0}),
        (SyncConfig, {"max_read_lag_ms": -1}),
        (SyncConfig, {"mode": "eventually"}),
        (SyncConfig, {"mode": {"kind": "asynchronous", "sync_for_search": True}}),
        (CostWeights, {"weight": 0}),
        (RoutingRule, {"name": "r", "target": "t", "match": {"resource_types": ["patient"]}}),
        (RoutingRule, {"name": "r", "target": "t", "match": {"features": ["telepathy"]}}),
        (BackendConfig, {**PRIMARY, "id": "Main"}),
        (BackendConfig, {**PRIMARY, "kind": "oracle"}),
        (BackendConfig, {**PRIMARY, "urll": "sqlite:///typo.db"}),
    ],
)
def test_structurally_invalid_settings_are_rejected(model: type[Any], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_invalid_default_tenant_is_rejected() -> None:
    with pytest.raises(ValidationError, match="tenant"):
        build(PRIMARY, default_tenant="acme/../x")
    assert build(PRIMARY, default_tenant="/acme/research/").default_tenant == "acme/research"


def test_config_models_are_frozen() -> None:
    config = build(PRIMARY)
    with pytest.raises(ValidationError):
        config.default_tenant = "other"  # type: ignore[misc]


# -- validation problems (fatal) ----------------------------------------------------------


def test_no_backends_means_no_primary() -> None:
    assert problem_codes() == ("no_primary",)


def test_only_disabled_primary_means_no_primary() -> None:
    assert problem_codes({**PRIMARY, "enabled": False}, SEARCH) == ("no_primary",)


def test_two_enabled_primaries() -> None:
    other = {**PRIMARY, "id": "other"}
    assert problem_codes(PRIMARY, other) == ("multiple_primaries",)
    # a disabled standby primary is fine
    assert build(PRIMARY, {**other, "enabled": False}).primary.id == "main"


def test_duplicate_backend_ids() -> None:
    assert problem_codes(PRIMARY, SEARCH, {**GRAPH, "id": "search"}) == ("duplicate_backend_id",)


def test_primary_id_is_reserved_for_the_primary_role() -> None:
    assert problem_codes(PRIMARY, {**SEARCH, "id": "primary"}) == ("reserved_backend_id",)


def test_kind_must_be_able_to_play_its_role() -> None:
    assert problem_codes(PRIMARY, {**SEARCH, "kind": "neo4j", "url": "neo4j://n"}) == (
        "role_not_supported",
    )


def test_url_scheme_must_match_kind() -> None:
    assert problem_codes(PRIMARY, {**GRAPH, "url": "http://neo4j:7474"}) == ("url_scheme_mismatch",)


def test_failover_to_itself() -> None:
    assert problem_codes({**PRIMARY, "failover": "main"}) == ("failover_self",)


def test_failover_to_unknown_backend() -> None:
    assert problem_codes({**PRIMARY, "failover": "standby"}) == ("unknown_failover",)


def test_failover_to_other_role() -> None:
    assert problem_codes({**PRIMARY, "failover": "search"}, SEARCH) == ("failover_role_mismatch",)


def test_failover_to_disabled_standby_of_same_role_is_valid() -> None:
    standby = {**PRIMARY, "id": "standby", "enabled": False}
    config = build({**PRIMARY, "failover": "standby"}, standby)
    assert config.backend(config.primary.failover or "").id == "standby"


def test_rule_target_unknown() -> None:
    routing = [rule("text", "elastic", "full_text")]
    assert problem_codes(PRIMARY, SEARCH, routing=routing) == ("unknown_rule_target",)


def test_rule_target_disabled() -> None:
    routing = [rule("text", "search", "full_text")]
    codes = problem_codes(PRIMARY, {**SEARCH, "enabled": False}, routing=routing)
    assert codes == ("disabled_rule_target",)


def test_rule_fallback_unknown_and_disabled() -> None:
    routing = [
        rule("text", "search", "full_text", fallback="nowhere"),
        rule("chain", "graph", "chain", fallback="search"),
    ]
    disabled_search = {**SEARCH, "enabled": False, "id": "search"}
    codes = problem_codes(PRIMARY, GRAPH, disabled_search, routing=routing)
    assert "unknown_rule_fallback" in codes
    assert "disabled_rule_fallback" in codes


def test_rule_target_must_have_the_capability() -> None:
    routing = [rule("chains-to-search", "search", "chain")]
    assert problem_codes(PRIMARY, SEARCH, routing=routing) == ("rule_target_incapable",)
    # declaring the capability makes the rule valid
    capable = {**SEARCH, "capabilities": ["chained_search", "full_text"]}
    assert build(PRIMARY, capable, routing=routing).routing[0].target == "search"


def test_include_goes_to_primary_but_include_iterate_may_go_to_graph() -> None:
    assert problem_codes(PRIMARY, GRAPH, routing=[rule("inc", "graph", "include")]) == (
        "rule_target_incapable",
    )
    config = build(PRIMARY, GRAPH, routing=[rule("inc", "graph", "include_iterate")])
    assert config.rules_for(QueryFeature.INCLUDE_ITERATE, "Patient")[0].name == "inc"


def test_duplicate_rule_names() -> None:
    routing = [rule("text", "search", "full_text"), rule("text", "primary", "basic")]
    assert problem_codes(PRIMARY, SEARCH, routing=routing) == ("duplicate_rule_name",)


def test_cost_for_unknown_backend() -> None:
    cost = {"backends": {"graph": {"latency_ms": 3}}}
    assert problem_codes(PRIMARY, SEARCH, cost=cost) == ("unknown_cost_backend",)


def test_per_backend_override_conflicting_with_defaults() -> None:
    # initial 20s is above the composite's max_backoff_ms (10s)
    search = {**SEARCH, "retry": {"initial_backoff_ms": 20_000}}
    assert problem_codes(PRIMARY, search) == ("invalid_override",)
    graph = {**GRAPH, "health": {"timeout_ms": 9_000}}
    assert problem_codes(PRIMARY, graph) == ("invalid_override",)


def test_per_backend_override_is_checked_against_the_composite_not_class_defaults() -> None:
    # alone, initial 20s would exceed RetryConfig's default max (10s); the composite allows 60s
    search = {**SEARCH, "retry": {"initial_backoff_ms": 20_000}}
    config = build(PRIMARY, search, retry={"max_backoff_ms": 60_000})
    assert config.retry_for(config.backend("search")).delays_ms()[:2] == (20_000, 40_000)
    graph = {**GRAPH, "health": {"timeout_ms": 9_000}}
    config = build(PRIMARY, graph, health={"check_interval_ms": 10_000})
    assert config.health_for(config.backend("graph")).timeout_ms == 9_000


def test_every_problem_is_reported_at_once() -> None:
    backends = [
        {**PRIMARY, "failover": "main"},
        {**PRIMARY, "id": "second"},
        {**SEARCH, "kind": "sqlite"},
        {**GRAPH, "id": "search"},
    ]
    routing = [rule("r", "missing", "basic")]
    with pytest.raises(ConfigError) as caught:
        build(*backends, routing=routing)
    assert set(caught.value.codes) == {
        "multiple_primaries",
        "duplicate_backend_id",
        "role_not_supported",
        "url_scheme_mismatch",
        "failover_self",
        "unknown_rule_target",
    }
    text = str(caught.value)
    assert "6 problems" in text
    assert "backends[0].failover" in text
    issues = caught.value.outcome()["issue"]
    assert len(issues) == 6
    assert {"backends[3].id"} <= {e for i in issues for e in i.get("expression", [])}


# -- warnings --------------------------------------------------------------------------------


def test_no_secondaries_warns() -> None:
    assert warning_codes(build(PRIMARY)) == ["no_secondaries"]
    assert "no_secondaries" in warning_codes(build(PRIMARY, {**SEARCH, "enabled": False}))


def test_redundant_full_text_warns_but_primary_fallback_does_not_count() -> None:
    assert "redundant_full_text" not in warning_codes(build(PRIMARY, SEARCH))
    elastic = {"id": "elastic", "role": "search", "kind": "elasticsearch", "url": "https://es:9200"}
    assert "redundant_full_text" in warning_codes(build(PRIMARY, SEARCH, elastic))
    graph_with_text = {**GRAPH, "capabilities": ["chained_search", "full_text"]}
    assert "redundant_full_text" in warning_codes(build(PRIMARY, SEARCH, graph_with_text))
    assert "redundant_full_text" not in warning_codes(
        build(PRIMARY, SEARCH, {**elastic, "enabled": False})
    )


def test_synchronous_without_timeout_warns_per_backend() -> None:
    sync = {"mode": "synchronous", "timeout_ms": None}
    warnings = build(PRIMARY, SEARCH, GRAPH, sync=sync).warnings()
    unbounded = [w for w in warnings if w.code == "unbounded_sync_wait"]
    assert [w.location for w in unbounded] == ["backends[1].sync", "backends[2].sync"]
    bounded_graph = {**GRAPH, "sync": {"timeout_ms": 1000}}
    warnings = build(PRIMARY, SEARCH, bounded_graph, sync=sync).warnings()
    assert len([w for w in warnings if w.code == "unbounded_sync_wait"]) == 1
    assert "unbounded_sync_wait" not in warning_codes(
        build(PRIMARY, SEARCH, sync={"mode": "synchronous"})
    )


def test_hybrid_without_timeout_warns_only_for_search() -> None:
    sync = {"mode": "hybrid", "timeout_ms": None}
    warnings = build(PRIMARY, SEARCH, GRAPH, sync=sync).warnings()
    assert [w.location for w in warnings if w.code == "unbounded_sync_wait"] == ["backends[1].sync"]


def test_hybrid_without_sync_for_search_warns() -> None:
    config = build(PRIMARY, SEARCH, sync={"mode": {"kind": "hybrid", "sync_for_search": False}})
    assert warning_codes(config) == ["hybrid_is_asynchronous"]
    assert config.write_waits_for() == ()


def test_hybrid_without_search_backend_warns() -> None:
    assert warning_codes(build(PRIMARY, GRAPH, sync={"mode": "hybrid"})) == [
        "hybrid_without_search"
    ]


def test_rule_without_fallback_warns() -> None:
    routing = [rule("text", "search", "full_text", fallback=None)]
    assert warning_codes(build(PRIMARY, SEARCH, routing=routing)) == ["no_fallback"]


def test_rule_falling_back_to_its_target_warns() -> None:
    routing = [rule("text", "main", "full_text", fallback="primary")]
    assert warning_codes(build(PRIMARY, SEARCH, routing=routing)) == ["fallback_is_target"]


# -- sync, retry, cost, routing behaviour ----------------------------------------------------


def test_sync_modes_decide_which_secondaries_a_write_waits_for() -> None:
    assert not Asynchronous().waits_for(BackendRole.SEARCH)
    assert Synchronous().waits_for(BackendRole.GRAPH)
    assert not Synchronous().waits_for(BackendRole.PRIMARY)
    assert Hybrid().waits_for(BackendRole.SEARCH)
    assert not Hybrid().waits_for(BackendRole.GRAPH)
    assert not Hybrid(sync_for_search=False).waits_for(BackendRole.SEARCH)

    def waits(mode: str) -> list[str]:
        return [b.id for b in build(PRIMARY, SEARCH, GRAPH, sync={"mode": mode}).write_waits_for()]

    assert waits("asynchronous") == []
    assert waits("synchronous") == ["search", "graph"]
    assert waits("hybrid") == ["search"]


def test_mode_shorthand_and_table_forms_are_equal() -> None:
    assert SyncConfig.model_validate({"mode": "hybrid"}) == SyncConfig.model_validate(
        {"mode": {"kind": "hybrid", "sync_for_search": True}}
    )


def test_backend_overrides_replace_only_the_fields_they_set() -> None:
    graph = {**GRAPH, "sync": {"mode": "synchronous"}, "retry": {"max_attempts": 2}}
    config = build(
        PRIMARY,
        SEARCH,
        graph,
        sync={"mode": "asynchronous", "max_read_lag_ms": 250, "batch_size": 50},
        retry={"max_attempts": 9, "initial_backoff_ms": 300},
    )
    graph_sync = config.sync_for(config.backend("graph"))
    assert isinstance(graph_sync.mode, Synchronous)
    assert (graph_sync.max_read_lag_ms, graph_sync.batch_size) == (250, 50)
    graph_retry = config.retry_for(config.backend("graph"))
    assert (graph_retry.max_attempts, graph_retry.initial_backoff_ms) == (2, 300)
    assert config.sync_for(config.backend("search")) == config.sync
    assert [b.id for b in config.write_waits_for()] == ["graph"]
    assert config.health_for(config.backend("graph")) == config.health


def test_retry_backoff_grows_and_is_capped() -> None:
    retry = RetryConfig(max_attempts=6, initial_backoff_ms=100, max_backoff_ms=1000, multiplier=3)
    assert retry.delays_ms() == (100, 300, 900, 1000, 1000)
    with pytest.raises(ValueError, match="1-based"):
        retry.backoff_ms(0)


def test_health_detection_time() -> None:
    health = HealthConfig(check_interval_ms=1000, timeout_ms=500, failure_threshold=3)
    assert health.detection_time_ms == 3500


def test_cost_weights_precedence() -> None:
    cost = CostConfig(
        roles={BackendRole.SEARCH: CostWeights(latency_ms=20)},
        backends={"graph": CostWeights(latency_ms=1, weight=2)},
    )
    assert cost.weights_for("search", BackendRole.SEARCH).latency_ms == 20
    assert cost.weights_for("graph", BackendRole.GRAPH).estimate_ms(1000) == 2 * (1 + 2)
    archive = cost.weights_for("cold", BackendRole.ARCHIVE)
    assert archive.latency_ms > cost.weights_for("x", BackendRole.PRIMARY).latency_ms
    config = build(PRIMARY, GRAPH, cost={"backends": {"graph": {"latency_ms": 7}}})
    assert config.cost_for(config.backend("graph")).latency_ms == 7


def test_rules_match_and_order_by_priority() -> None:
    routing = [
        rule("text", "search", "full_text"),
        {
            "name": "doc-text",
            "target": "primary",
            "priority": 5,
            "match": {"features": ["full_text"], "resource_types": ["DocumentReference"]},
        },
        {"name": "names", "target": "search", "match": {"parameters": ["name", "family"]}},
    ]
    config = build(PRIMARY, SEARCH, routing=routing)
    names = [r.name for r in config.rules_for(QueryFeature.FULL_TEXT, "DocumentReference")]
    assert names == ["doc-text", "text"]
    assert [r.name for r in config.rules_for(QueryFeature.FULL_TEXT, "Patient")] == ["text"]
    assert [r.name for r in config.rules_for(QueryFeature.BASIC, "Patient", ["family"])] == [
        "names"
    ]
    assert config.rules_for(QueryFeature.BASIC, "Patient", ["birthdate"]) == []


def test_resolve_primary_alias_and_providers() -> None:
    config = build(PRIMARY, SEARCH, GRAPH)
    assert config.resolve("primary") == config.backend("main")
    assert config.resolve("graph") == config.backend("graph")
    assert config.resolve("nothing") is None
    assert [b.id for b in config.providers(Capability.FULL_TEXT)] == ["main", "search"]
    assert [b.id for b in config.secondaries] == ["search", "graph"]
    with pytest.raises(KeyError):
        config.backend("nothing")


# -- loading ---------------------------------------------------------------------------------

TOML = """
default_tenant = "acme"

[[backends]]
id = "main"
role = "primary"
kind = "postgresql"
url = "postgresql://u@db/fhir"

[[backends]]
id = "search"
role = "search"
kind = "elasticsearch"
url = "https://es:9200"

[sync]
mode = { kind = "hybrid", sync_for_search = true }
max_read_lag_ms = 200

[[routing]]
name = "text"
target = "search"
match = { features = ["full_text"] }
"""

DATA: dict[str, Any] = {
    "default_tenant": "acme",
    "backends": [
        {"id": "main", "role": "primary", "kind": "postgresql", "url": "postgresql://u@db/fhir"},
        {"id": "search", "role": "search", "kind": "elasticsearch", "url": "https://es:9200"},
    ],
    "sync": {"mode": {"kind": "hybrid", "sync_for_search": True}, "max_read_lag_ms": 200},
    "routing": [{"name": "text", "target": "search", "match": {"features": ["full_text"]}}],
}

YAML = """
default_tenant: acme
backends:
  - {id: main, role: primary, kind: postgresql, url: "postgresql://u@db/fhir"}
  - {id: search, role: search, kind: elasticsearch, url: "https://es:9200"}
sync:
  mode: {kind: hybrid, sync_for_search: true}
  max_read_lag_ms: 200
routing:
  - name: text
    target: search
    match: {features: [full_text]}
"""


@pytest.mark.parametrize(
    ("suffix", "text"),
    [(".toml", TOML), (".yaml", YAML), (".yml", YAML), (".json", orjson.dumps(DATA).decode())],
)
def test_each_file_format_loads_the_same_config(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"polyfhir{suffix}"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, env={})
    assert config == parse_config(DATA)
    assert config.default_tenant == "acme"
    assert isinstance(config.sync.mode, Hybrid)
    assert config.primary.kind is BackendKind.POSTGRESQL


@pytest.mark.parametrize(
    ("name", "text", "code"),
    [
        ("c.ini", "[x]", "unsupported_format"),
        ("c.toml", "backends = [", "config_file_syntax"),
        ("c.yaml", "backends: [", "config_file_syntax"),
        ("c.json", "{", "config_file_syntax"),
        ("c.yaml", "- a list", "config_file_syntax"),
    ],
)
def test_unreadable_files_are_config_errors(
    tmp_path: Path, name: str, text: str, code: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.codes == (code,)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.toml", env={})
    assert caught.value.codes == ("config_file_not_found",)


def test_structural_errors_become_config_errors_with_locations() -> None:
    data = {"backends": [{**PRIMARY, "kind": "oracle"}], "retry": {"max_attempts": 0}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.codes == ("invalid_setting", "invalid_setting")
    assert [p.location for p in caught.value.problems] == ["backends[0].kind", "retry.max_attempts"]


def test_semantic_errors_surface_from_loading(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(orjson.dumps({"backends": [SEARCH]}))
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.codes == ("no_primary",)


def test_config_file_named_by_env(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(TOML, encoding="utf-8")
    assert load_config(env={CONFIG_FILE_VARIABLE: str(path)}).default_tenant == "acme"
    # an explicit path wins over the variable
    other = tmp_path / "o.json"
    other.write_bytes(orjson.dumps({"backends": [PRIMARY]}))
    assert load_config(other, env={CONFIG_FILE_VARIABLE: str(path)}).default_tenant == "default"


def test_no_file_means_embedded_default() -> None:
    config = load_config(env={})
    assert config == default_config()
    assert config.primary.kind is BackendKind.SQLITE
    assert config.secondaries == ()


def test_default_config_picks_kind_from_url() -> None:
    assert default_config("postgresql://u@h/db").primary.kind is BackendKind.POSTGRESQL
    assert default_config("sqlite:///:memory:").primary.url == "sqlite:///:memory:"
    with pytest.raises(ConfigError) as caught:
        default_config("mysql://h/db")
    assert caught.value.codes == ("unsupported_primary_url",)


def test_process_environment_is_used_when_env_is_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(TOML, encoding="utf-8")
    monkeypatch.setenv(CONFIG_FILE_VARIABLE, str(path))
    monkeypatch.setenv("POLYFHIR_CONFIG__DEFAULT_TENANT", "from-env")
    assert load_config().default_tenant == "from-env"


# -- environment overrides -------------------------------------------------------------------


def load_with(tmp_path: Path, env: dict[str, str], text: str = TOML) -> CompositeConfig:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env=env)


def test_env_overrides_scalars_and_nested_tables(tmp_path: Path) -> None:
    config = load_with(
        tmp_path,
        {
            "POLYFHIR_CONFIG__DEFAULT_TENANT": "other",
            "POLYFHIR_CONFIG__SYNC__MAX_READ_LAG_MS": "900",
            "POLYFHIR_CONFIG__HEALTH__FAILURE_THRESHOLD": "7",
            "UNRELATED": "ignored",
            "POLYFHIR_CONFIG_UNRELATED": "ignored",
        },
    )
    assert config.default_tenant == "other"
    assert config.sync.max_read_lag_ms == 900
    assert isinstance(config.sync.mode, Hybrid)  # untouched siblings survive
    assert config.health.failure_threshold == 7


def test_env_addresses_backends_by_id_case_insensitively(tmp_path: Path) -> None:
    env = {
        "POLYFHIR_CONFIG__BACKENDS__MAIN__URL": "postgresql://app:pw@prod/fhir",
        "POLYFHIR_CONFIG__BACKENDS__SEARCH__OPTIONS__INDEX_PREFIX": "tenant1",
        "POLYFHIR_CONFIG__BACKENDS__1__URL": "https://es.internal:9200",
    }
    config = load_with(tmp_path, env | {"POLYFHIR_CONFIG__ROUTING__TEXT__FALLBACK": "main"})
    assert config.primary.url == "postgresql://app:pw@prod/fhir"
    assert config.backend("search").options == {"index_prefix": "tenant1"}
    assert config.backend("search").url == "https://es.internal:9200"
    assert config.routing[0].fallback == "main"


def test_env_disabling_a_rule_target_is_caught(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_with(tmp_path, {"POLYFHIR_CONFIG__BACKENDS__SEARCH__ENABLED": "false"})
    assert caught.value.codes == ("disabled_rule_target",)


def test_env_adds_a_backend_and_sets_json_values(tmp_path: Path) -> None:
    env = {
        "POLYFHIR_CONFIG__BACKENDS__GRAPH__ROLE": "graph",
        "POLYFHIR_CONFIG__BACKENDS__GRAPH__KIND": "falkordb",
        "POLYFHIR_CONFIG__BACKENDS__GRAPH__URL": "redis://127.0.0.1:6379",
        "POLYFHIR_CONFIG__BACKENDS__GRAPH__CAPABILITIES": '["chained_search", "reverse_chaining"]',
        "POLYFHIR_CONFIG__SYNC__MODE": '{"kind": "hybrid", "sync_for_search": false}',
        "POLYFHIR_CONFIG__SYNC__MAX_READ_LAG_MS": "null",
    }
    config = load_with(tmp_path, env)
    graph = config.backend("graph")
    assert graph.kind is BackendKind.FALKORDB
    assert graph.effective_capabilities == {Capability.CHAINED_SEARCH, Capability.REVERSE_CHAINING}
    assert config.sync.mode == Hybrid(sync_for_search=False)
    assert config.sync.max_read_lag_ms is None


def test_env_builds_on_the_embedded_default(tmp_path: Path) -> None:
    config = load_config(
        env={
            "POLYFHIR_CONFIG__BACKENDS__PRIMARY__KIND": "postgresql",
            "POLYFHIR_CONFIG__BACKENDS__PRIMARY__URL": "postgresql://u@h/db",
        }
    )
    assert config.primary.id == "primary"
    assert config.primary.kind is BackendKind.POSTGRESQL


def test_env_sets_values_inside_an_inline_table(tmp_path: Path) -> None:
    env = {"POLYFHIR_CONFIG__SYNC__MODE__SYNC_FOR_SEARCH": "false"}
    config = load_with(tmp_path, env)
    assert config.sync.mode == Hybrid(sync_for_search=False)


@pytest.mark.parametrize(
    "name",
    [
        "POLYFHIR_CONFIG__BACKENDS__7__URL",  # no such position
        "POLYFHIR_CONFIG__SYNC____MODE",  # empty segment
        "POLYFHIR_CONFIG__DEFAULT_TENANT__X",  # descends into a scalar
    ],
)
def test_bad_env_overrides_are_reported(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_with(tmp_path, {name: "x"})
    assert caught.value.codes == ("invalid_env_override",)
    assert caught.value.problems[0].location == name


def test_env_value_that_is_broken_json_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_with(tmp_path, {"POLYFHIR_CONFIG__BACKENDS__SEARCH__CAPABILITIES": "[full_text"})
    assert caught.value.codes == ("invalid_env_override",)


def test_env_values_are_validated_like_file_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_with(tmp_path, {"POLYFHIR_CONFIG__SYNC__BATCH_SIZE": "lots"})
    assert caught.value.problems[0].location == "sync.batch_size"


# -- the shipped examples --------------------------------------------------------------------


def test_embedded_example_loads() -> None:
    config = load_config(DEPLOY / "embedded.toml", env={})
    assert config.primary.kind is BackendKind.SQLITE
    assert config.secondaries == ()
    assert warning_codes(config) == ["no_secondaries"]


def test_polyglot_example_loads_without_warnings() -> None:
    config = load_config(DEPLOY / "polyglot.yaml", env={})
    assert config.primary.kind is BackendKind.POSTGRESQL
    assert {b.role for b in config.secondaries} == {
        BackendRole.SEARCH,
        BackendRole.GRAPH,
        BackendRole.TERMINOLOGY,
    }
    assert isinstance(config.sync.mode, Hybrid)
    assert [b.id for b in config.write_waits_for()] == ["search"]
    assert config.warnings() == []
    assert config.rules_for(QueryFeature.CHAIN, "Observation")[0].target == "graph"
    assert config.rules_for(QueryFeature.FULL_TEXT, "Patient")[0].target == "search"
    assert config.backend("primary-standby").enabled is False
