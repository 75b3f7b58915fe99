"""Ports for test servers: a port handed out to one process is not handed to another
(parallel test workers pick before their servers bind)."""

from __future__ import annotations

import random
import subprocess
import sys

PICKS = 10
WINDOW = 200  # 5 processes x 10 picks out of 200 ports: unreserved, some would coincide
PICK = (
    "from polyfhir_engines import processes\n"
    "processes._SERVER_PORTS = range({base}, {base} + {window})\n"
    "print(*(processes.free_port() for _ in range({n})))"
)


def test_ports_picked_by_concurrent_processes_never_coincide() -> None:
    base = random.SystemRandom().randrange(15000, 32768 - WINDOW)
    script = PICK.format(base=base, window=WINDOW, n=PICKS)
    pickers = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(5)
    ]
    picked = [int(p) for picker in pickers for p in picker.communicate(timeout=60)[0].split()]
    assert len(picked) == 5 * PICKS
    assert len(set(picked)) == len(picked)
    assert all(base <= port < base + WINDOW for port in picked)
