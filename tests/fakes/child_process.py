"""A child of the local stack without a process: the test says when it dies and
whether its next starts succeed (``polyfhir_engines.supervisor.Child``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeChild:
    name: str
    running: bool = True
    exit_code: int | None = None
    failing_starts: int = 0  # how many of the next starts raise
    starts: int = 0
    pid: int | None = field(default=100)

    def crash(self, exit_code: int = -9) -> None:
        self.running, self.exit_code = False, exit_code

    def stop(self) -> None:
        self.running = False

    def start(self) -> None:
        self.starts += 1
        if self.failing_starts > 0:
            self.failing_starts -= 1
            self.exit_code = 1
            raise RuntimeError(f"{self.name} exited with 1 before listening")
        self.running, self.exit_code = True, None
        self.pid = 100 + self.starts
