"""Cross-field rules of the composite configuration: problems (fatal) and warnings.

Every check returns all its findings so an operator fixes a file in one pass.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pydantic import ValidationError

from polyfhir_core.config._model import ConfigModel, overlay
from polyfhir_core.config.problems import ConfigProblem, ConfigWarning
from polyfhir_core.config.roles import BackendRole, Capability, url_scheme
from polyfhir_core.config.routing import PRIMARY_ALIAS, RoutingRule
from polyfhir_core.config.sync_mode import Hybrid

if TYPE_CHECKING:
    from polyfhir_core.config.backends import BackendConfig
    from polyfhir_core.config.composite_config import CompositeConfig


def collect_problems(config: CompositeConfig) -> list[ConfigProblem]:
    return [
        *_primary_problems(config),
        *_identity_problems(config),
        *_engine_problems(config),
        *_failover_problems(config),
        *_routing_problems(config),
        *_cost_problems(config),
        *_override_problems(config),
    ]


def collect_warnings(config: CompositeConfig) -> list[ConfigWarning]:
    return [*_topology_warnings(config), *_sync_warnings(config), *_routing_warnings(config)]


def _at(index: int, field: str = "") -> str:
    return f"backends[{index}]" + (f".{field}" if field else "")


# -- problems -------------------------------------------------------------------------


def _primary_problems(config: CompositeConfig) -> list[ConfigProblem]:
    primaries = [b.id for b in config.enabled_backends if b.role is BackendRole.PRIMARY]
    if not primaries:
        return [ConfigProblem("no_primary", "exactly one enabled backend must have role primary")]
    if len(primaries) > 1:
        names = ", ".join(primaries)
        return [
            ConfigProblem(
                "multiple_primaries",
                f"exactly one enabled backend may have role primary, found {names}",
            )
        ]
    return []


def _identity_problems(config: CompositeConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    seen: set[str] = set()
    for i, backend in enumerate(config.backends):
        if backend.id in seen:
            problems.append(
                ConfigProblem(
                    "duplicate_backend_id", f"backend id {backend.id!r} is used twice", _at(i, "id")
                )
            )
        seen.add(backend.id)
        if backend.id == PRIMARY_ALIAS and backend.role is not BackendRole.PRIMARY:
            message = f"the id {PRIMARY_ALIAS!r} is reserved for a backend with role primary"
            problems.append(ConfigProblem("reserved_backend_id", message, _at(i, "id")))
    names = Counter(rule.name for rule in config.routing)
    problems.extend(
        ConfigProblem("duplicate_rule_name", f"routing rule name {name!r} is used {n} times")
        for name, n in names.items()
        if n > 1
    )
    return problems


def _engine_problems(config: CompositeConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for i, b in enumerate(config.backends):
        if not b.kind.can_play(b.role):
            roles = ", ".join(sorted(b.kind.roles))
            message = f"{b.id}: a {b.kind} backend cannot play role {b.role} (it can play {roles})"
            problems.append(ConfigProblem("role_not_supported", message, _at(i, "role")))
        if url_scheme(b.url) not in b.kind.url_schemes:
            schemes = ", ".join(f"{s}://" for s in sorted(b.kind.url_schemes))
            message = f"{b.id}: a {b.kind} url must start with one of {schemes}"
            problems.append(ConfigProblem("url_scheme_mismatch", message, _at(i, "url")))
    return problems


def _failover_problems(config: CompositeConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for i, b in enumerate(config.backends):
        if b.failover is None:
            continue
        where = _at(i, "failover")
        target = config.get_backend(b.failover)
        if b.failover == b.id:
            problems.append(ConfigProblem("failover_self", f"{b.id} fails over to itself", where))
        elif target is None:
            message = f"{b.id} fails over to {b.failover!r}, which is not a configured backend"
            problems.append(ConfigProblem("unknown_failover", message, where))
        elif target.role is not b.role:
            message = f"{b.id} ({b.role}) fails over to {target.id}, which has role {target.role}"
            problems.append(ConfigProblem("failover_role_mismatch", message, where))
    return problems


def _routing_problems(config: CompositeConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for i, rule in enumerate(config.routing):
        problems.extend(_reference_problems(config, rule, "target", rule.target, f"routing[{i}]"))
        if rule.fallback is not None:
            where = f"routing[{i}]"
            problems.extend(_reference_problems(config, rule, "fallback", rule.fallback, where))
        target = _resolve_enabled(config, rule.target)
        if target is not None:
            problems.extend(_capability_problems(rule, target, f"routing[{i}].target"))
    return problems


def _resolve_enabled(config: CompositeConfig, name: str) -> BackendConfig | None:
    backend = config.get_backend(name)
    if backend is None and name == PRIMARY_ALIAS:
        return next((b for b in config.enabled_backends if b.role is BackendRole.PRIMARY), None)
    return backend if backend is not None and backend.enabled else None


def _reference_problems(
    config: CompositeConfig, rule: RoutingRule, field: str, name: str, where: str
) -> list[ConfigProblem]:
    location = f"{where}.{field}"
    backend = config.get_backend(name)
    if backend is None and name != PRIMARY_ALIAS:
        message = f"rule {rule.name!r}: {field} {name!r} is not a configured backend"
        return [ConfigProblem(f"unknown_rule_{field}", message, location)]
    if backend is not None and not backend.enabled:
        message = f"rule {rule.name!r}: {field} {name!r} is disabled"
        return [ConfigProblem(f"disabled_rule_{field}", message, location)]
    return []


def _capability_problems(
    rule: RoutingRule, target: BackendConfig, where: str
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for feature in sorted(rule.match.features):
        if target.effective_capabilities.isdisjoint(feature.required_capabilities):
            needed = " or ".join(sorted(feature.required_capabilities))
            message = (
                f"rule {rule.name!r} sends {feature} to {target.id}, which lacks {needed} "
                "(declare it in the backend's capabilities if the engine has it)"
            )
            problems.append(ConfigProblem("rule_target_incapable", message, where))
    return problems


def _cost_problems(config: CompositeConfig) -> list[ConfigProblem]:
    known = {b.id for b in config.backends}
    return [
        ConfigProblem(
            "unknown_cost_backend",
            f"cost weights given for {backend_id!r}, which is not a configured backend",
            f"cost.backends.{backend_id}",
        )
        for backend_id in config.cost.backends
        if backend_id not in known
    ]


def _override_problems(config: CompositeConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for i, b in enumerate(config.backends):
        pairs: list[tuple[str, ConfigModel, ConfigModel | None]] = [
            ("sync", config.sync, b.sync),
            ("retry", config.retry, b.retry),
            ("health", config.health, b.health),
        ]
        for field, default, override in pairs:
            try:
                overlay(default, override)
            except ValidationError as exc:
                reasons = "; ".join(e["msg"] for e in exc.errors())
                message = f"{b.id}: {field} override conflicts with the defaults: {reasons}"
                problems.append(ConfigProblem("invalid_override", message, _at(i, field)))
    return problems


# -- warnings -------------------------------------------------------------------------


def _topology_warnings(config: CompositeConfig) -> list[ConfigWarning]:
    warnings: list[ConfigWarning] = []
    if not config.secondaries:
        message = "no enabled secondaries: the primary serves every query (embedded mode)"
        warnings.append(ConfigWarning("no_secondaries", message))
    full_text = [b.id for b in config.secondaries if b.has(Capability.FULL_TEXT)]
    if len(full_text) > 1:
        names = ", ".join(full_text)
        message = (
            f"{names} all provide full_text: every write is indexed for full text "
            f"{len(full_text)} times; disable all but one"
        )
        warnings.append(ConfigWarning("redundant_full_text", message))
    return warnings


def _sync_warnings(config: CompositeConfig) -> list[ConfigWarning]:
    warnings: list[ConfigWarning] = []
    for i, b in enumerate(config.backends):
        sync = config.sync_for(b)
        if b.enabled and sync.waits_for(b.role) and sync.timeout_ms is None:
            message = (
                f"writes wait for {b.id} without a timeout_ms: a stalled {b.id} stalls every write"
            )
            warnings.append(ConfigWarning("unbounded_sync_wait", message, _at(i, "sync")))
    mode = config.sync.mode
    searchers = [b for b in config.secondaries if b.role is BackendRole.SEARCH]
    if isinstance(mode, Hybrid) and not mode.sync_for_search:
        message = "hybrid mode with sync_for_search = false behaves as asynchronous"
        warnings.append(ConfigWarning("hybrid_is_asynchronous", message, "sync.mode"))
    elif isinstance(mode, Hybrid) and config.secondaries and not searchers:
        message = "hybrid mode has no enabled search backend to wait for: writes are asynchronous"
        warnings.append(ConfigWarning("hybrid_without_search", message, "sync.mode"))
    return warnings


def _routing_warnings(config: CompositeConfig) -> list[ConfigWarning]:
    warnings: list[ConfigWarning] = []
    for i, rule in enumerate(config.routing):
        where = f"routing[{i}].fallback"
        if rule.fallback is None:
            message = (
                f"rule {rule.name!r} has no fallback: its searches fail while {rule.target} is down"
            )
            warnings.append(ConfigWarning("no_fallback", message, where))
        elif config.resolve(rule.fallback) == config.resolve(rule.target):
            message = f"rule {rule.name!r} falls back to its own target {rule.target}"
            warnings.append(ConfigWarning("fallback_is_target", message, where))
    return warnings
