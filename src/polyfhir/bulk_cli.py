"""``polyfhir export`` and ``polyfhir import`` against a running server (Bulk Data API).

Export: kick off, follow the status (a progress bar of resources exported, with rate
and elapsed time), then download every file of the manifest into a folder. Import:
NDJSON files (a file, a folder of ``*.ndjson``, or URLs the server can read) sent as
one ``$import``; a file's type is its first line's ``resourceType``. Local files are
passed as ``file://`` URLs, so the server must run on this machine with
``POLYFHIR_BULK_IMPORT_DIR`` covering them. Ctrl-C cancels the job.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from tqdm import tqdm

ASYNC = {"prefer": "respond-async"}
POLL_S = 0.5


def _client(base: str, tenant: str | None) -> httpx.Client:
    headers = {"accept": "application/fhir+json", **({"X-Tenant-ID": tenant} if tenant else {})}
    return httpx.Client(base_url=base.rstrip("/"), headers=headers, timeout=60.0)


def _follow(client: httpx.Client, status_url: str, what: str) -> dict[str, Any] | None:
    """Poll the status URL with a progress bar until the manifest (None: failed)."""
    with tqdm(desc=what, unit=" resources") as bar:
        try:
            while True:
                response = client.get(status_url)
                if response.status_code != 202:
                    break
                done = int(response.headers.get("x-progress", "0").split(" ", 1)[0] or 0)
                bar.update(max(0, done - bar.n))
                bar.set_postfix_str(response.headers.get("x-progress", ""))
                time.sleep(POLL_S)  # polling an HTTP API for progress
        except KeyboardInterrupt:
            client.delete(status_url)
            print(f"{what}: cancelled")
            return None
    if response.status_code != 200:
        print(f"{what} failed ({response.status_code}): {response.text}")
        return None
    manifest: dict[str, Any] = response.json()
    return manifest


def export(base: str, tenant: str | None, path: str, params: dict[str, str], out: Path) -> int:
    with _client(base, tenant) as client:
        started = client.get(path, params=params, headers=ASYNC)
        if started.status_code != 202:
            print(f"export refused ({started.status_code}): {started.text}")
            return 1
        manifest = _follow(client, started.headers["content-location"], "export")
        if manifest is None:
            return 1
        out.mkdir(parents=True, exist_ok=True)
        files = [*manifest["output"], *manifest["deleted"], *manifest["error"]]
        for entry in tqdm(files, desc="download", unit=" files"):
            target = out / entry["url"].rsplit("/", 1)[1]
            with client.stream("GET", entry["url"]) as response, target.open("wb") as handle:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        counts = ", ".join(f"{e['type']} {e['count']}" for e in manifest["output"]) or "nothing"
        print(f"exported {counts} to {out}")
        return 0


def _first_type(path: Path) -> str:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                return str(orjson.loads(line).get("resourceType"))
    raise ValueError(f"{path} has no resource")


def import_inputs(sources: list[str], resource_type: str | None) -> list[dict[str, str]]:
    """``{type, url}`` per input: files, ``*.ndjson`` in folders, or URLs."""
    inputs: list[dict[str, str]] = []
    for source in sources:
        if "://" in source:
            if resource_type is None:
                raise ValueError(f"{source}: give --type for URL inputs")
            inputs.append({"type": resource_type, "url": source})
            continue
        path = Path(source).resolve()
        files = sorted(path.glob("*.ndjson")) if path.is_dir() else [path]
        inputs += [
            {"type": resource_type or _first_type(file), "url": file.as_uri()} for file in files
        ]
    return inputs


def import_parameters(inputs: list[dict[str, str]]) -> dict[str, Any]:
    """The ``$import`` Parameters resource for ``inputs`` ({type, url})."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "inputFormat", "valueString": "application/fhir+ndjson"},
            *(
                {
                    "name": "input",
                    "part": [
                        {"name": "type", "valueCode": item["type"]},
                        {"name": "url", "valueUri": item["url"]},
                    ],
                }
                for item in inputs
            ),
        ],
    }


def import_(base: str, tenant: str | None, inputs: list[dict[str, str]]) -> int:
    parameters = import_parameters(inputs)
    with _client(base, tenant) as client:
        started = client.post("/$import", json=parameters, headers=ASYNC)
        if started.status_code != 202:
            print(f"import refused ({started.status_code}): {started.text}")
            return 1
        manifest = _follow(client, started.headers["content-location"], "import")
        if manifest is None:
            return 1
        imported = sum(int(e["count"]) for e in manifest["output"])
        errors = len(manifest["error"])
        print(f"imported {imported} resources; {errors} error file(s)")
        for entry in manifest["error"]:
            print(f"  errors: {entry['url']}")
        return 0
