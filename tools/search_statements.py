"""Print the SQL the primary store runs for a broad corpus of searches, per dialect.

    uv run python tools/search_statements.py > tests/unit/primary/golden/search_statements.txt

Each query of ``CORPUS`` is parsed, compiled against the official registry and
turned into every statement a search may run (``SearchStatements``) and the
statements of its ``_include``/``_revinclude`` specs, for SQLite and for
PostgreSQL: SQL text and parameters. The search SQL is heavily tuned
(``docs/search.md``), so a restructuring of the search code must leave this
output byte-identical; ``tests/unit/primary/test_search_statements.py``
compares it with the golden file. Regenerate the golden file only for a change
that means to change the statements, and say so in the commit.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import fields, replace
from urllib.parse import parse_qsl

from polyfhir_core.errors import FhirError
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search import IncludeSpec, SearchQuery, parse_search
from polyfhir_primary.adapters.sql.dialects import DIALECTS
from polyfhir_primary.adapters.sql.includes import include_statement
from polyfhir_primary.search import Limits, compile_search, stored_includes
from polyfhir_primary.search.sql import search_statements

TENANT = "tenant-a"

# (resource type or "" for a system search, query string[, compartment "Type/id"])
CORPUS: tuple[tuple[str, str] | tuple[str, str, str], ...] = (
    # every parameter type, modifiers and prefixes (tests/integration/api/test_search_types.py)
    ("Patient", ""),
    ("Patient", "name=muller"),
    ("Patient", "name=MUL"),
    ("Patient", "given=ann"),
    ("Patient", "name:exact=Müller"),
    ("Patient", "family:contains=ULL"),
    ("Patient", "family=comma\\,name"),
    ("Patient", "family=comma,zzz"),
    ("Patient", "name=anna&name=muller"),
    ("Patient", "name:missing=true"),
    ("Patient", "name:missing=false"),
    ("Patient", "gender=female,male"),
    ("Patient", "gender:not=male"),
    ("Patient", "active=false"),
    ("Patient", "identifier=http://hospital/mrn|A1"),
    ("Patient", "identifier=A1"),
    ("Patient", "identifier=http://hospital/mrn|"),
    ("Patient", "identifier=|A1"),
    ("Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|A1"),
    ("Patient", "phone=555-1000"),
    ("Observation", "code:text=systolic"),
    ("Condition", "code:text=angina&_total=estimate"),
    ("Condition", "code:text=stable angina"),
    ("Observation", "code=http://loinc.org|8480-6"),
    ("Patient", "_tag=http://tags|vip"),
    ("Patient", "_profile=http://example.org/StructureDefinition/pat"),
    ("Patient", "_source=http://feed/a%231"),
    ("Patient", "birthdate=1970"),
    ("Patient", "birthdate=1970-06"),
    ("Patient", "birthdate=ne1970"),
    ("Patient", "birthdate=ge1985"),
    ("Patient", "birthdate=lt1980"),
    ("Patient", "birthdate=gt1970-12-31"),
    ("Patient", "birthdate=le1970-12-31"),
    ("Patient", "birthdate=sa1984"),
    ("Patient", "birthdate=eb1971"),
    ("Patient", "birthdate=ap1971"),
    ("Patient", "birthdate=ge1970-03&birthdate=lt1990"),
    ("Observation", "date=2020-01-01"),
    ("Observation", "date=ge2020-01-01T10:00:00Z"),
    ("Observation", "value-quantity=120"),
    ("Observation", "value-quantity=100.0"),
    ("Observation", "value-quantity=gt110"),
    ("Observation", "value-quantity=lt100|http://unitsofmeasure.org|kg"),
    ("Observation", "value-quantity=le200||mm[Hg]"),
    ("Observation", "value-quantity=ap100"),
    ("Observation", "value-quantity=ne5,sa6,eb7,ge8"),
    ("Observation", "value-quantity:missing=true"),
    ("RiskAssessment", "probability=0.02"),
    ("RiskAssessment", "probability=gt0.01"),
    ("RiskAssessment", "probability=lt0.1"),
    ("RiskAssessment", "probability=ge0.5"),
    ("RiskAssessment", "probability=le0.5,sa0.1,eb0.9,ap0.4,ne0.3"),
    ("Observation", "subject:identifier=http://hospital/mrn|Z9"),
    ("Observation", "subject:missing=true"),
    ("Observation", "patient:missing=false"),
    ("ValueSet", "url=http://example.org/fhir/ValueSet/a"),
    ("ValueSet", "url:below=http://example.org/fhir"),
    ("ValueSet", "url:above=http://example.org/fhir/ValueSet/a/b/c"),
    ("ValueSet", "url:missing=true"),
    ("Patient", "_id=p1,p2"),
    ("Patient", "_id:not=p1"),
    ("Patient", "_lastUpdated=ge2020-01-01&_lastUpdated=lt2030"),
    ("Patient", "_lastUpdated=gt2020-01-01&name=ann"),
    ("", "_type=Patient,Observation&_tag=http://tags|vip"),
    ("", "_tag=http://tags|vip"),
    ("", "_id=x1&_count=5"),
    # references (test_search_references.py, test_search_shared_rows.py)
    ("Observation", "subject=Patient/ann"),
    ("Observation", "subject=ann"),
    ("Observation", "subject:Patient=bob"),
    ("Observation", "patient=ann,bob"),
    ("Observation", "subject=Group/ann"),
    ("Observation", "subject=http://other.org/fhir/Patient/1"),
    ("Observation", "patient=Patient/ann&code=8867-4"),
    ("Observation", "subject=Patient/ann&_sort=-date"),
    ("Observation", "_sort=patient"),
    ("Observation", "_sort=subject,-_lastUpdated"),
    ("Observation", "combo-code=8480-6"),
    ("Observation", "combo-code:missing=true"),
    # chains 1-3 levels
    ("Observation", "subject:Patient.name=smi"),
    ("Observation", "patient.gender=male"),
    ("Observation", "patient.gender=male&code=8867-4"),
    ("Observation", "subject.name=smi"),
    ("Observation", "subject:Patient.organization.name=acme"),
    ("Observation", "subject:Patient.general-practitioner:Practitioner.name=house"),
    ("Observation", "subject.general-practitioner.name=shared1"),
    ("DiagnosticReport", "result.subject:Patient.gender=female"),
    ("DiagnosticReport", "result.subject:Patient.organization.name=acme"),
    ("DiagnosticReport", "result.patient.identifier=http://hospital/mrn|A1&_total=estimate"),
    ("DiagnosticReport", "result.code=8867-4&result.patient.gender=male"),
    ("Observation", "patient.gender=male&patient.birthdate=ge1970"),
    ("Observation", "patient._id=ann"),
    ("Observation", "patient.gender=male&_total=accurate&_count=5&_offset=10"),
    ("Observation", "patient.gender=male&_total=none"),
    ("Observation", "patient.gender=male&_total=estimate"),
    # a chain probing a code's rows: the code's rows counted first (``driver_rows``)
    ("Observation", "patient.gender=female&code=http://loinc.org|2951-2&_total=estimate"),
    ("Observation", "patient.gender=female&code=http://loinc.org|2951-2&_total=accurate"),
    ("Observation", "patient.name=ann&code=http://loinc.org|2951-2&_total=estimate"),
    ("Observation", "patient.gender=male&_count=20&_offset=990"),
    ("Observation", "patient.gender=male&_sort=-date"),
    ("Observation", "patient.gender:not=male&code=8867-4"),
    ("Encounter", "subject.name=ann&date=ge2020"),
    # _has, nested
    ("Patient", "_has:Observation:patient:code=2339-0"),
    ("Patient", "_has:Observation:subject:code=2339-0&gender=female"),
    ("Patient", "_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/gp1"),
    ("Patient", "_has:Observation:patient:date=ge2020&_has:Observation:patient:code=1"),
    ("Practitioner", "_has:Patient:general-practitioner:name=ann"),
    ("Patient", "_has:Observation:patient:code=2339-0&_total=estimate"),
    # includes
    ("Observation", "code=8867-4&_include=Observation:subject&_count=5"),
    ("Observation", "_include=Observation:patient"),
    ("Observation", "_include=Observation:subject:Patient"),
    ("Observation", "_include=Observation:*"),
    ("Observation", "_include=*"),
    ("Patient", "_revinclude=*"),
    ("Patient", "_revinclude=Observation:subject"),
    ("Patient", "_revinclude=Observation:patient"),
    ("Patient", "_revinclude:iterate=Observation:subject&_include:iterate=Observation:performer"),
    ("MedicationRequest", "_revinclude=Provenance:target&_sort=_id"),
    # sort
    ("Patient", "_sort=family,-birthdate"),
    ("Patient", "_sort=-birthdate"),
    ("Patient", "gender=female&_sort=-birthdate,family&_count=7"),
    ("Observation", "date=ge2020&_sort=date&_count=15"),
    ("Patient", "_sort=_lastUpdated"),
    ("Patient", "_sort=-_id"),
    ("Observation", "_sort=value-quantity"),
    ("ValueSet", "_sort=url"),
    ("RiskAssessment", "_sort=-probability"),
    ("Observation", "_sort=code"),
    # _total variants, paging, _summary=count
    ("Observation", "code=8867-4&_total=accurate"),
    ("Observation", "code=8867-4&_total=estimate"),
    ("Observation", "code=8867-4&_total=none"),
    ("Observation", "code=8867-4&_total=estimate&_count=20&_offset=100"),
    ("Observation", "code=8867-4&_total=accurate&_count=20&_offset=200"),
    ("Observation", "code=8867-4&_count=0"),
    ("Observation", "code=8867-4&_summary=count"),
    ("Observation", "code=8867-4&date=ge2025-06-01&date=lt2026-06-01"),
    ("Observation", "code=8867-4&date=ge2025-06-01&date=lt2026-06-01&_total=estimate"),
    ("Patient", "_count=2&_offset=4"),
    ("Patient", "_total=estimate&_sort=family"),
    # full text
    ("Condition", "_text=heart"),
    ("Condition", "_text=heart&_total=estimate"),
    ("Condition", "_text=heart&_total=none"),
    ("Condition", "_text=heart&_count=10&_offset=10"),
    ("Condition", "_text=heart&_sort=-onset-date"),
    ("Condition", "_content=heart attack"),
    ("Condition", '_text="heart attack" OR lung*'),
    ("Condition", "_text=heart -lung&clinical-status=active"),
    ("Condition", "_text:text-advanced=heart"),
    ("", "_text=heart&_type=Condition,Observation"),
    ("Condition", "_text=heart&subject.name=ann"),
    # terminology
    ("Observation", "code:below=http://example.org/cs|A"),
    ("Observation", "code:below=A"),
    ("Observation", "code:above=http://example.org/cs|A1a"),
    ("Observation", "code:in=http://example.org/fhir/ValueSet/vs"),
    ("Observation", "code:not-in=http://example.org/fhir/ValueSet/vs"),
    ("Observation", "code:in=http://example.org/vs1,http://example.org/vs2&status=final"),
    # composites
    ("Observation", "code-value-quantity=http://loinc.org|8480-6$gt100"),
    ("Observation", "component-code-value-quantity=http://loinc.org|8480-6$gt100"),
    ("Observation", "component-code-value-quantity=8480-6$gt100,8462-4$lt90"),
    ("Observation", "code-value-date=8480-6$ge2020"),
    ("Observation", "code-value-string=8480-6$abc"),
    ("Observation", "combo-code-value-quantity=8480-6$gt100&patient=Patient/ann"),
    # compartments
    ("Observation", "", "Patient/ann"),
    ("Observation", "code=8867-4", "Patient/ann"),
    ("Patient", "", "Patient/ann"),
    ("Encounter", "_sort=date", "Patient/ann"),
    ("Observation", "_total=estimate", "Practitioner/gp1"),
    # the benchmark's mix (benchmarks/search.py)
    ("Patient", "identifier=urn:oid:1.2.36.146.595.217.0.1|12345-7"),
    ("Patient", "name=Smi"),
    ("Observation", "subject:Patient.name=Smith"),
    ("DiagnosticReport", "result.subject:Patient.name=Smith"),
    ("Patient", "_has:Observation:patient:code=http://loinc.org|8867-4"),
    ("Observation", "identifier=x&_include=Observation:subject&_include=Observation:performer"),
    ("Patient", "identifier=x&_revinclude=Encounter:subject"),
    # unknown and lenient parameters
    ("Patient", "unknown=1&name=ann"),
    ("Patient", "name:unknown=1"),
)


def _query(entry: tuple[str, ...]) -> SearchQuery:
    rtype, qs = entry[0] or None, entry[1]
    query = parse_search(rtype, parse_qsl(qs, keep_blank_values=True))
    if len(entry) > 2:
        ctype, _, cid = entry[2].partition("/")
        query = replace(query, compartment=(ctype, cid))
    return query


def _sql(name: str, statement: object) -> Iterator[str]:
    if statement is None:
        yield f"  {name}: -"
        return
    if isinstance(statement, int):
        yield f"  {name}: {statement}"
        return
    assert isinstance(statement, tuple)
    sql, args = statement
    yield f"  {name}: {sql}"
    yield f"  {name} args: {args!r}"


def render(registry: SearchParameterRegistry) -> Iterator[str]:
    limits = Limits()
    for entry in CORPUS:
        title = " ".join(entry)
        try:
            compiled = compile_search(_query(entry), registry, limits, "http://fhir.example/r4")
        except FhirError as exc:
            yield f"# {title}\n  error: {type(exc).__name__}: {exc}"
            continue
        yield f"# {title}"
        yield f"  ignored: {[p.raw_name for p in compiled.ignored]!r}"
        includes = stored_includes(_query(entry).includes, registry)
        for name, dialect in DIALECTS.items():
            yield f" [{name}]"
            statements = search_statements(TENANT, compiled.plan, dialect)
            for f in fields(statements):
                yield from _sql(f.name, getattr(statements, f.name))
            for spec in includes:
                yield from _sql(
                    f"include {spec}",
                    include_statement(_typed(spec, entry[0]), ["a", "b"], dialect, TENANT),
                )


def _typed(spec: IncludeSpec, match_type: str) -> IncludeSpec:
    """``_include=*``/``_revinclude=*`` run once per matched type (sql/includes.py):
    render them for the query's."""
    if spec.is_bare_wildcard and spec.reverse:
        return IncludeSpec("*", "*", match_type, True, spec.iterate)
    if spec.is_bare_wildcard:
        return IncludeSpec(match_type, "*", None, False, spec.iterate)
    return spec


def main() -> None:
    registry = SearchParameterRegistry.default()
    sys.stdout.write("\n".join(render(registry)) + "\n")


if __name__ == "__main__":
    main()
