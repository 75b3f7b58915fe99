"""A local S3-compatible server: moto's server mode as a child process (in memory).

Any S3 client works against ``endpoint_url`` with any key pair; buckets are created by
the tests (one per test, unique names)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType

from polyfhir_engines.processes import free_port, spawn, stop, wait_http

ACCESS_KEY_ID = "polyfhir-test"
SECRET_ACCESS_KEY = "polyfhir-test-secret"  # noqa: S105 (moto accepts any key)
REGION = "us-east-1"


class LocalS3:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        moto = Path(sys.executable).parent / "moto_server"
        self.proc = spawn(
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)], {}, log_dir / "moto.log"
        )
        try:
            wait_http(f"{self.endpoint_url}/moto-api/", self.proc)
        except BaseException:
            stop(self.proc)
            raise

    def stop(self) -> None:
        stop(self.proc)

    def __enter__(self) -> LocalS3:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
