"""Seeded generation of hostile requests over every route of the FHIR and admin APIs.

Hypothesis strategies describe the requests; :func:`generate` draws a fixed
number of them with a fixed seed (generation phase only: the list is the same
on every run, so a failure names a request that can be replayed). Requests
cover methods (the route's own and others, including unknown ones), paths
(valid and unknown types, odd ids, huge version numbers), query strings
(known, unknown, modified, chained and malformed parameters with random,
oversized, control-character and huge-number values), headers (content types,
accept, preconditions, Prefer, tenant) and bodies (valid resources, broken
JSON, deep nesting, huge numbers, wrong resourceType, control characters,
Bundles, JSON Patch, forms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import orjson
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

FUZZ_SEED = 20261206
HUGE = "99999999999999999999"
TENANT = "{tenant}"  # replaced by the test's own tenant

# (path template, the route's own methods); {placeholders} are drawn below
ROUTES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/fhir", ("GET", "POST")),
    ("/fhir/metadata", ("GET",)),
    ("/fhir/_history", ("GET",)),
    ("/fhir/{type}", ("GET", "POST", "PUT", "DELETE")),
    ("/fhir/{type}/_search", ("POST",)),
    ("/fhir/{type}/_history", ("GET",)),
    ("/fhir/{type}/{id}", ("GET", "PUT", "PATCH", "DELETE")),
    ("/fhir/{type}/{id}/_history", ("GET",)),
    ("/fhir/{type}/{id}/_history/{vid}", ("GET",)),
    ("/fhir/{type}/{id}/{type2}", ("GET",)),
    ("/fhir/{type}/{id}/{type2}/_search", ("POST",)),
    ("/admin/reindex", ("POST",)),
    ("/admin/reindex/{id}", ("GET", "DELETE")),
    ("/admin/backends", ("GET",)),
    ("/admin/explain", ("GET",)),
    ("/admin/explain/{type}", ("GET",)),
    ("/admin/advisor/{advice}", ("POST",)),
    ("/admin/advisor/health", ("GET",)),
    ("/admin/advisor/backends", ("GET",)),
    ("/admin/advisor/backends/{kind}", ("GET",)),
    ("/admin/backends/{backend}/{action}", ("POST",)),
    ("/admin/backends/{backend}/jobs/{id}", ("GET", "DELETE")),
    ("/livez", ("GET",)),
    ("/readyz", ("GET",)),
)
OTHER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "FOO", "TRACE")
TYPES = ("Patient", "Observation", "Organization", "Encounter", "Bundle", "CodeSystem")
MORE_TYPES = ("ValueSet", "SearchParameter", "Binary", "Practitioner", "Group", "Device")
BAD_TYPES = ("NotAType", "patient", "_history", "$export", "metadata", "Resource", "DomainResource")
PARAMS = (
    "name",
    "family",
    "given",
    "identifier",
    "birthdate",
    "gender",
    "_id",
    "_lastUpdated",
    "code",
    "value-quantity",
    "subject",
    "patient",
    "date",
    "status",
    "organization",
    "code-value-quantity",
    "component-code-value-quantity",
    "general-practitioner",
    "url",
    "_text",
    "_content",
    "_type",
    "_tag",
    "_profile",
    "_security",
    "_source",
    "_list",
    "subject.name",
    "subject:Patient.organization.name",
    "subject.organization.identifier",
    "_has:Observation:subject:code",
    "_has:Observation:patient:_has:Observation:has-member:code",
    "has-member:Observation.has-member:Observation.code",
    "link:Patient.link:Patient.gender",
)
CONTROL = (
    "_count",
    "_offset",
    "_sort",
    "_include",
    "_revinclude",
    "_include:iterate",
    "_elements",
    "_summary",
    "_total",
    "_since",
    "_at",
    "_page",
    "_format",
    "_pretty",
    "_contained",
    "_containedType",
)
MODIFIERS = (
    "",
    "",
    "",
    ":missing",
    ":exact",
    ":contains",
    ":text",
    ":not",
    ":above",
    ":below",
    ":in",
    ":not-in",
    ":of-type",
    ":identifier",
    ":Patient",
    ":iterate",
    ":text-advanced",
    ":bogus",
)

# Any Unicode text but lone surrogates (not encodable): control characters included.
junk = st.text(st.characters(codec="utf-8"), max_size=24)
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
numbers = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from([HUGE, "-1", "0", "1e5", "0x1f", "²", "١٢", "NaN", "", " 1", "2147483648"]),
)
dates = st.sampled_from(
    ["2020", "gt2020-01", "le1970-01-01T00:00:00Z", "2020-13-45", "eq2020-02-30", "ap", "sa",
     "gt" + HUGE, "2020-01-01T25:00:00+99:00", "99999-01-01", "-2020", "ge0000"]
)  # fmt: skip
tokens = st.sampled_from(
    ["sys|code", "|code", "sys|", "|", "a|b|c", "http://loinc.org|1234-5", "a\\,b", "a\\|b",
     "\\", "5.4|http://unitsofmeasure.org|mg", "gt5.4||mg", "ap1e999", "1e-999", "a$5", "a$b$c",
     "Patient/1", "http://x/fhir/Patient/1/_history/2", "Patient/", "Type:param", "*",
     "Patient:organization", "Observation:subject:Patient", "-name,_id", "x" * 3000]
)  # fmt: skip
values = st.one_of(numbers, dates, tokens, junk, st.lists(tokens, max_size=4).map(",".join))
param_names = st.one_of(
    st.tuples(st.sampled_from(PARAMS + CONTROL), st.sampled_from(MODIFIERS)).map("".join),
    junk.filter(bool),
)
queries = st.lists(st.tuples(param_names, values), max_size=6)


def _json_int(value: int) -> int | orjson.Fragment:
    """Integers beyond 64 bits as raw JSON (orjson refuses to write them; a client may not)."""
    return value if -(2**63) <= value < 2**63 else orjson.Fragment(str(value).encode("ascii"))


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80).map(_json_int),
        st.floats(allow_nan=False),
        junk,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(PARAMS) | junk, inner, max_size=3),
    ),
    max_leaves=12,
)


def _dumps(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _resource(rtype: str, extra: dict[str, object]) -> bytes:
    return _dumps({"resourceType": rtype, **extra})


@st.composite
def bodies(draw: st.DrawFn, rtype: str) -> bytes:
    kind = draw(st.sampled_from(["none", "resource", "junk-field", "broken", "deep", "huge",
                                 "wrong-type", "control", "bundle", "patch", "form", "array"]))  # fmt: skip
    if kind == "none":
        return b""
    if kind == "resource":
        return _resource(rtype, {"id": draw(st.sampled_from(["a", "p1", "x" * 65]))})
    if kind == "junk-field":
        return _resource(
            rtype, draw(st.dictionaries(st.sampled_from(PARAMS) | junk, json_values, max_size=3))
        )
    if kind == "broken":
        valid = _resource(rtype, {"name": [{"family": "x"}]})
        return draw(
            st.one_of(st.binary(max_size=64), st.integers(0, len(valid)).map(lambda n: valid[:n]))
        )
    if kind == "deep":
        depth = draw(st.sampled_from([50, 99, 100, 101, 300, 1000, 2000]))
        return (
            b'{"resourceType": "'
            + rtype.encode()
            + b'", "extension": '
            + b"[" * depth
            + b"]" * depth
            + b"}"
        )
    if kind == "huge":
        number = draw(st.sampled_from([HUGE * 3, "1e400", "-1e400", "1" + "0" * 400, "1.5e-400"]))
        return (
            b'{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": '
            + number.encode()
            + b"}}"
        )
    if kind == "wrong-type":
        return _resource(draw(st.sampled_from(BAD_TYPES + TYPES)), {})
    if kind == "control":
        text = draw(junk) + draw(st.sampled_from(["\x00", "\x01", "\x1f", "\x7f", "\ud7ff"]))
        return _resource(rtype, {"name": [{"family": text}], "id": "c1"})
    if kind == "bundle":
        entries = draw(st.lists(st.fixed_dictionaries({
            "request": st.fixed_dictionaries({"method": st.sampled_from(OTHER_METHODS), "url": st.one_of(junk, st.sampled_from(["Patient", "Patient/a", "Patient?name=x", "Patient/a/_history/" + HUGE]))}),
            "resource": json_values,
            "fullUrl": st.one_of(junk, st.just("urn:uuid:1")),
        }), max_size=3))  # fmt: skip
        bundle_type = draw(st.sampled_from(["transaction", "batch", "searchset", "bogus", ""]))
        return _dumps({"resourceType": "Bundle", "type": bundle_type, "entry": entries})
    if kind == "patch":
        ops = draw(st.lists(st.fixed_dictionaries({"op": st.sampled_from(["add", "replace", "remove", "move", "copy", "test", "x"]), "path": st.one_of(junk, st.sampled_from(["/name", "/id", "/meta/versionId", "/resourceType", "/name/0/family", "/name/-"])), "value": json_values}), max_size=3))  # fmt: skip
        return _dumps(ops)
    if kind == "form":
        return urlencode(draw(queries)).encode()
    return _dumps(draw(st.lists(json_values, max_size=3)))


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def for_tenant(self, tenant: str) -> dict[str, str]:
        return {k: v.replace(TENANT, tenant) for k, v in self.headers.items()}

    def describe(self) -> str:
        return f"{self.method} {self.url} headers={self.headers} body={self.body[:200]!r}"


def _segment(draw: st.DrawFn, name: str) -> str:
    strategies = {
        "type": st.one_of(st.sampled_from(TYPES + MORE_TYPES), st.sampled_from(TYPES), st.sampled_from(BAD_TYPES), junk.filter(bool)),
        "type2": st.sampled_from(TYPES + MORE_TYPES + BAD_TYPES),
        "id": st.one_of(st.sampled_from(["a", "p1", "x.y-z", "x" * 65, HUGE]), junk.filter(bool)),
        "vid": numbers.filter(bool),
        "advice": st.sampled_from(["analyze", "validate", "suggest", "simulate", "nope"]),
        "backend": st.sampled_from(["search", "primary", "graph", "nope"]),
        "action": st.sampled_from(["reconcile", "rebuild", "nope"]),
        "kind": st.one_of(st.sampled_from(["sqlite", "falkordb", "neo4j", "nope"]), junk.filter(bool)),
    }  # fmt: skip
    return quote(draw(strategies[name]), safe="")


HEADER_CHOICES: dict[str, tuple[str, ...]] = {
    "content-type": ("application/fhir+json", "application/json", "application/json-patch+json",
                     "application/x-www-form-urlencoded", "text/plain", "application/fhir+xml",
                     "multipart/form-data; boundary=x", "application/fhir+json; charset=latin-1"),
    "accept": ("application/fhir+json", "application/fhir+xml", "*/*", "text/html", "application/*"),
    "if-match": ('W/"1"', '"2"', f'W/"{HUGE}"', "*", "garbage", 'W/"-1"', 'W/""'),
    "if-none-match": ('W/"1"', "*", f'W/"{HUGE}"', "garbage"),
    "if-none-exist": ("name=x", "identifier=a|b", f"_count={HUGE}", "bogus=1", "=", "_has:x"),
    "if-modified-since": ("Mon, 01 Jan 2024 00:00:00 GMT", "yesterday", ""),
    "prefer": ("return=minimal", "return=OperationOutcome", "return=representation",
               "handling=strict", "handling=lenient", "respond-async", "return=bogus"),
    "x-tenant-id": (TENANT, TENANT, TENANT, f"{TENANT}/sub", "", "../x", "a b", "-", "x" * 300),
}  # fmt: skip


@st.composite
def fuzz_requests(draw: st.DrawFn) -> FuzzRequest:
    template, own = draw(st.sampled_from(ROUTES))
    any_method = draw(st.integers(0, 4)) == 0
    method = draw(st.sampled_from(OTHER_METHODS if any_method else own))
    rtype = draw(st.sampled_from(TYPES + MORE_TYPES))
    path = template
    if draw(st.integers(0, 2)):  # mostly the body's own type in the path
        path = path.replace("{type}", rtype, 1)
    for name in ("type2", "type", "id", "vid", "advice", "backend", "action", "kind"):
        while "{" + name + "}" in path:
            path = path.replace("{" + name + "}", _segment(draw, name), 1)
    query = urlencode(draw(queries), quote_via=quote)
    url = path + (f"?{query}" if query else "")
    headers = {"x-tenant-id": TENANT}
    for name in draw(st.lists(st.sampled_from(sorted(HEADER_CHOICES)), max_size=4, unique=True)):
        # a field value has no surrounding whitespace (RFC 9110 5.5): h11 refuses to send one
        headers[name] = draw(st.one_of(st.sampled_from(HEADER_CHOICES[name]), printable)).strip()
    with_body = method not in ("GET", "HEAD") or draw(st.integers(0, 9)) == 0
    return FuzzRequest(method, url, headers, draw(bodies(rtype)) if with_body else b"")


def generate(count: int, batch: int = 20) -> list[FuzzRequest]:
    """``count`` requests, the same on every run: batches of ``batch`` drawn with seeds
    ``FUZZ_SEED``, ``FUZZ_SEED + 1``, ... (one long run would mostly vary a few requests)."""
    drawn: list[FuzzRequest] = []
    for salt in range(-(-count // batch)):
        size = min(batch, count - len(drawn))

        @seed(FUZZ_SEED + salt)
        @settings(
            max_examples=size,
            phases=[Phase.generate],
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(fuzz_requests())
        def collect(request: FuzzRequest) -> None:
            drawn.append(request)

        collect()
    return drawn[:count]
