"""Ports for test servers: a port handed out to one process is not handed to another
(parallel test workers pick before their servers bind)."""

from __future__ import annotations

import subprocess
import sys

from polyfhir_engines.processes import free_port

PICKS = 40
PICK = "from polyfhir_engines.processes import free_port\nprint(*(free_port() for _ in range({n})))"


def test_ports_picked_by_concurrent_processes_never_coincide() -> None:
    pickers = [
        subprocess.Popen(
            [sys.executable, "-c", PICK.format(n=PICKS)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    picked = [int(p) for picker in pickers for p in picker.communicate(timeout=60)[0].split()]
    picked += [free_port() for _ in range(PICKS)]
    assert len(picked) == 5 * PICKS
    assert len(set(picked)) == len(picked)
    assert all(15000 <= port < 32768 for port in picked)
