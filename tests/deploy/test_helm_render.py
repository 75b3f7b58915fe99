"""helm/polyfhir passes Helm's linter and every manifest the Kubernetes schemas.

Both for the default values and for ``ci/everything-values.yaml``, against the oldest and
newest Kubernetes version the chart supports (Chart.yaml ``kubeVersion``).
"""

from __future__ import annotations

from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from helm_chart import CHART, KUBE_VERSIONS, REQUIRED_VALUES, merge_values, render_chart

pytestmark = pytest.mark.unit

#: Custom resources of the Prometheus Operator: no schema ships with kubernetes-validate.
OPERATOR_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


def _values(name: str, everything_values: dict[str, Any]) -> dict[str, Any]:
    return (
        merge_values(REQUIRED_VALUES, everything_values)
        if name == "everything"
        else REQUIRED_VALUES
    )


def test_kube_version_range_names_the_tested_versions() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    oldest, newest = KUBE_VERSIONS
    major, minor, _ = newest.split(".")
    assert chart["kubeVersion"] == f">={oldest}-0 <{major}.{int(minor) + 1}.0-0"


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("which", ["default", "everything"])
def test_helm_lint_is_clean(
    which: str, kube_version: str, everything_values: dict[str, Any]
) -> None:
    report = helm_python.lint(
        CHART, _values(which, everything_values), strict=True, kube_version=f"v{kube_version}"
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert (report["errors"], problems) == ([], [])


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("which", ["default", "everything"])
def test_every_manifest_is_valid_kubernetes(
    which: str, kube_version: str, everything_values: dict[str, Any]
) -> None:
    manifests = render_chart(_values(which, everything_values)).manifests
    assert manifests
    for manifest in manifests:
        if (manifest["apiVersion"], manifest["kind"]) in OPERATOR_KINDS:
            continue
        # strict: an unknown field (a typo in a template) is an error too
        kubernetes_validate.validate(manifest, kube_version, strict=True)
