"""helm/polyfhir rendered by Helm's own engine (the Go SDK in ``helm-python-sdk``), parsed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "polyfhir"
#: The Kubernetes versions the chart supports (Chart.yaml ``kubeVersion``): every rendered
#: manifest is validated against the schemas of the oldest and the newest.
KUBE_VERSIONS = ("1.25.0", "1.37.0")

#: Values every render needs (``gateway.auth.mode: jwks`` requires an issuer).
REQUIRED_VALUES: dict[str, Any] = {
    "gateway": {
        "auth": {
            "issuer": "https://issuer.example.org",
            "audience": "https://fhir.example.org/fhir",
            "jwksUrl": "https://issuer.example.org/jwks",
        }
    }
}


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class RenderedChart:
    """The manifests ``helm template`` would print, parsed, by template file."""

    files: dict[str, str]

    @property
    def manifests(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for path, text in sorted(self.files.items()):
            if path.endswith(".yaml"):
                found.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return found

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] == kind]

    def named(self, kind: str, suffix: str) -> dict[str, Any]:
        (found,) = [m for m in self.of_kind(kind) if m["metadata"]["name"].endswith(suffix)]
        return found

    def container(self, component: str) -> dict[str, Any]:
        deployment = self.named("Deployment", f"-{component}")
        containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
        return containers[0]

    def env(self, component: str) -> dict[str, Any]:
        """A component's container env: name -> value (or the valueFrom mapping)."""
        return {
            e["name"]: e.get("value", e.get("valueFrom")) for e in self.container(component)["env"]
        }


def render_chart(*overrides: dict[str, Any], release: str = "fhir") -> RenderedChart:
    """Render helm/polyfhir with Helm's own engine (the Go SDK in ``helm-python-sdk``)."""
    values = REQUIRED_VALUES
    for override in overrides:
        values = merge_values(values, override)
    chart = helm_python.Chart.load(CHART)
    return RenderedChart(chart.render(values, name=release, namespace="fhir", is_install=True))
