"""Property: whatever linked data tenant A holds, no path from another tenant reveals it.

For each drawn world (:mod:`isolation_world`, hypothesis with a fixed seed) A's
data is written in one transaction; then a prober tenant B — unrelated to A,
A's child ``A/child``, or A's parent — sends every probe with A's ids, identifiers,
words and terminology URLs, and a twin prober B' in the same relation to an
empty tenant sends the same probes with ghost names of the same shape. For every
probe B's answer must have the shape of B''s (status, bundle type, total, entry
types and statuses, issue codes): no id, no content, no count, no status that
tells A's data exists. No answer to B may carry A's secret word, and A's data
must be unchanged afterwards. A itself must find its data with the searches
(the positive control: an empty answer to B then means something).

``POLYFHIR_ISOLATION_EXAMPLES`` sets the number of worlds per server (default
:data:`isolation_check.DEFAULT_EXAMPLES`; a longer run: ``POLYFHIR_ISOLATION_EXAMPLES=200``).
The test prints the worlds, requests and probe paths it tried.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Server
from isolation_check import check_isolation

pytestmark = pytest.mark.integration


async def test_no_path_from_another_tenant_reveals_anything(
    isolated_server: Server, tenancy_strategy: str, record_property: Any
) -> None:
    run = await check_isolation(isolated_server, f"{tenancy_strategy} {_name(isolated_server)}")
    print(run.summary)
    record_property("isolation_worlds", run.worlds)
    record_property("isolation_requests", run.requests)
    record_property("isolation_paths", run.paths)
    assert not run.leaks, "\n".join([run.summary, *run.leaks])


def _name(server: Server) -> str:
    return f"{server.backend}-{server.topology}"
