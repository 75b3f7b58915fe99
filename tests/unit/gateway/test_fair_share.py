"""Fair share without I/O: the token bucket on a fake clock, the limits table and its
hierarchy, the request classifier, and admission per tenant budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyfhir_core.tenancy import TenantId
from polyfhir_gateway.fairshare.limiter import FairShare, Limit
from polyfhir_gateway.fairshare.limits import TenantLimitsTable, load_tenant_limits
from polyfhir_gateway.fairshare.metrics import OTHER, TenantLabels
from polyfhir_gateway.fairshare.token_bucket import TokenBucket
from polyfhir_gateway.fairshare.work_kind import HeavySearch, WorkKind, classify


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the bucket --------------------------------------------------------------------------


def test_a_bucket_allows_its_burst_then_refuses_until_it_refills() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, size=3.0, clock=clock)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after_s() == 1  # half a second to the next token, rounded up
    clock.now += 0.5
    assert bucket.try_take()
    assert not bucket.try_take()


def test_retry_after_is_computed_from_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=0.1, size=1.0, clock=clock)
    assert bucket.try_take()
    assert bucket.retry_after_s() == 10
    clock.now += 7.5
    assert bucket.retry_after_s() == 3


def test_a_bucket_never_holds_more_than_its_size() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=100.0, size=2.0, clock=clock)
    clock.now += 3600
    assert bucket.full
    assert [bucket.try_take() for _ in range(3)] == [True, True, False]


def test_a_clock_going_backwards_adds_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, size=1.0, clock=clock)
    assert bucket.try_take()
    clock.now -= 50
    assert not bucket.try_take()


# -- the limits table -------------------------------------------------------------------


def test_overrides_inherit_the_default_keys_they_do_not_name() -> None:
    table = load_tenant_limits('{"default": {"rate": 10, "max_heavy": 4}, "acme": {"rate": 50}}')
    key, limits = table.budget_for(TenantId.parse("acme"))
    assert (key, limits.rate, limits.max_heavy) == ("acme", 50, 4)


def test_a_child_spends_its_ancestors_budget_unless_it_has_its_own() -> None:
    table = load_tenant_limits(
        {"default": {"rate": 1}, "acme": {"rate": 50}, "acme/research": {"rate": 5}}
    )
    assert table.budget_for(TenantId.parse("acme/sales/emea"))[0] == "acme"
    assert table.budget_for(TenantId.parse("acme/research/x"))[0] == "acme/research"
    # the default is a template: every other tenant gets a budget of its own
    assert table.budget_for(TenantId.parse("globex/a"))[0] == "globex/a"


def test_limits_are_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "limits.json"
    path.write_text('{"default": {"rate": 3}}')
    assert load_tenant_limits(str(path)).default.rate == 3


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"default": {"rate": 0}}', "greater than 0"),
        ('{"default": {"rate": 5, "burts": 9}}', "burts"),
        ('{"acme": {"max_heavy": "many"}}', "max_heavy"),
        ('{"not a tenant": {}}', "invalid tenant id"),
        ('{"acme": 5}', "acme"),
        ("{not json", "not valid JSON"),
        ("/no/such/limits.json", "cannot be read"),
    ],
)
def test_bad_limits_are_refused_at_startup_with_the_reason(raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        load_tenant_limits(raw)


def test_no_setting_means_no_limits() -> None:
    assert not TenantLimitsTable().enabled
    assert load_tenant_limits('{"default": {"max_jobs": 2}}').enabled


# -- the classifier ---------------------------------------------------------------------

HEAVY = HeavySearch(complexity=8, include_count=100)


def _kind(method: str, path: str, query: str = "") -> WorkKind:
    pairs = [(p.partition("=")[0], p.partition("=")[2]) for p in query.split("&") if p]
    return classify(method, path, pairs, HEAVY)


@pytest.mark.parametrize(
    ("method", "path", "query", "kind"),
    [
        ("GET", "/fhir/Patient", "name=smith", WorkKind.LIGHT),
        ("GET", "/fhir/Patient/p1", "", WorkKind.LIGHT),
        ("GET", "/fhir/Patient/p1/_history/2", "", WorkKind.LIGHT),
        ("POST", "/fhir/Patient", "", WorkKind.LIGHT),
        ("GET", "/fhir/Observation", "subject:Patient.name=smith", WorkKind.HEAVY),
        ("GET", "/fhir/Patient", "_has:Observation:subject:code=1234", WorkKind.HEAVY),
        ("GET", "/fhir/Patient", "_content=fever", WorkKind.HEAVY),
        ("GET", "/fhir/Observation", "code:text=glucose", WorkKind.HEAVY),
        ("GET", "/fhir/Observation", "_include=Observation:subject", WorkKind.LIGHT),
        ("GET", "/fhir/Observation", "_include=Observation:subject&_count=500", WorkKind.HEAVY),
        ("GET", "/fhir/Observation", "_include:iterate=Observation:subject", WorkKind.HEAVY),
        ("GET", "/fhir/Patient/p1/Observation", "code:text=x", WorkKind.HEAVY),
        ("GET", "/fhir/Patient/p1/Observation", "code=x", WorkKind.LIGHT),
        ("POST", "/fhir/Patient/_search", "_text=x", WorkKind.HEAVY),
        ("DELETE", "/fhir/Patient", "_has:Observation:subject:code=1", WorkKind.HEAVY),
        ("GET", "/fhir", "_content=x", WorkKind.HEAVY),
        ("GET", "/fhir", "_type=Patient", WorkKind.LIGHT),
        ("POST", "/fhir", "", WorkKind.HEAVY),  # a batch or transaction bundle
        ("GET", "/fhir/Patient/p1/$everything", "", WorkKind.HEAVY),
        ("GET", "/fhir/$export", "", WorkKind.JOB),
        ("GET", "/fhir/Group/g1/$export", "", WorkKind.JOB),
        ("POST", "/fhir/$import", "", WorkKind.JOB),
        ("GET", "/fhir/$export-status/abc", "", WorkKind.LIGHT),
        ("GET", "/fhir/ValueSet/$expand", "url=x", WorkKind.LIGHT),
        ("POST", "/admin/reindex", "", WorkKind.JOB),
        ("POST", "/admin/backends/search/rebuild", "", WorkKind.JOB),
        ("POST", "/admin/backends/search/reconcile", "", WorkKind.JOB),
        ("GET", "/admin/explain/Patient", "name=x", WorkKind.ADMIN),
        ("GET", "/fhir/metadata", "", WorkKind.EXEMPT),
        ("GET", "/fhir/.well-known/smart-configuration", "", WorkKind.EXEMPT),
        ("GET", "/metrics", "", WorkKind.EXEMPT),
        ("GET", "/livez", "", WorkKind.EXEMPT),
    ],
)
def test_requests_are_classified_by_their_shape(
    method: str, path: str, query: str, kind: WorkKind
) -> None:
    assert _kind(method, path, query) is kind


def test_many_basic_clauses_reach_the_complexity_threshold() -> None:
    many = "&".join(f"identifier=sys|{n}" for n in range(8))
    assert _kind("GET", "/fhir/Patient", many) is WorkKind.HEAVY
    assert _kind("GET", "/fhir/Patient", "identifier=a|1&name=x") is WorkKind.LIGHT


def test_a_malformed_search_is_light_and_left_to_the_route() -> None:
    assert _kind("GET", "/fhir/Patient", "_count=notanumber") is WorkKind.LIGHT


# -- admission --------------------------------------------------------------------------


def _fair(raw: str, clock: FakeClock | None = None, labels: int = 100) -> FairShare:
    return FairShare(load_tenant_limits(raw), labels, clock or FakeClock())


def test_one_tenant_over_its_rate_does_not_touch_another() -> None:
    clock = FakeClock()
    fair = _fair('{"default": {"rate": 1, "burst": 2}}', clock)
    noisy, quiet = fair.budget(TenantId("noisy")), fair.budget(TenantId("quiet"))
    assert fair.take_token(noisy) is None
    assert fair.take_token(noisy) is None
    refused = fair.take_token(noisy)
    assert refused is not None
    assert (refused.limit, refused.retry_after_s) == (Limit.RATE, 1)
    assert "noisy" in refused.message
    assert fair.take_token(quiet) is None
    clock.now += 1
    assert fair.take_token(noisy) is None


def test_a_subtree_shares_its_overrides_bucket() -> None:
    fair = _fair('{"default": {"rate": 100}, "acme": {"rate": 1, "burst": 1}}')
    assert fair.take_token(fair.budget(TenantId.parse("acme/research"))) is None
    assert fair.take_token(fair.budget(TenantId.parse("acme"))) is not None


def test_heavy_slots_are_bounded_and_given_back() -> None:
    fair = _fair('{"default": {"max_heavy": 2, "retry_after_s": 3}}')
    budget = fair.budget(TenantId("t"))
    assert fair.enter_heavy(budget) is None
    assert fair.enter_heavy(budget) is None
    refused = fair.enter_heavy(budget)
    assert refused is not None
    assert (refused.limit, refused.retry_after_s) == (Limit.HEAVY, 3)
    fair.leave_heavy(budget)
    assert fair.heavy_in_flight(budget) == 1
    assert fair.enter_heavy(budget) is None
    assert fair.enter_heavy(fair.budget(TenantId("other"))) is None


def test_running_jobs_are_bounded_per_tenant() -> None:
    fair = _fair('{"default": {"max_jobs": 1}}')
    budget = fair.budget(TenantId("t"))
    assert fair.check_jobs(budget, 0) is None
    refused = fair.check_jobs(budget, 1)
    assert refused is not None
    assert refused.limit is Limit.JOBS


def test_no_rate_means_no_bucket() -> None:
    fair = _fair('{"default": {"max_heavy": 1}}')
    budget = fair.budget(TenantId("t"))
    assert all(fair.take_token(budget) is None for _ in range(1000))


def test_tenant_labels_beyond_the_limit_are_other() -> None:
    labels = TenantLabels(2)
    assert [labels(t) for t in ("a", "b", "c", "a", "d")] == ["a", "b", OTHER, "a", OTHER]


def test_idle_buckets_are_forgotten_once_there_are_many(monkeypatch: pytest.MonkeyPatch) -> None:
    import polyfhir_gateway.fairshare.limiter as limiter

    monkeypatch.setattr(limiter, "_SWEEP_ABOVE", 3)
    clock = FakeClock()
    fair = _fair('{"default": {"rate": 1, "burst": 1}}', clock)
    for name in ("a", "b", "c"):
        assert fair.take_token(fair.budget(TenantId(name))) is None
    clock.now += 5  # every bucket refilled: idle
    assert fair.take_token(fair.budget(TenantId("d"))) is None
    assert fair.buckets == 1
