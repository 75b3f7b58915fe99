"""Parsed deployment files and what the code they deploy declares (settings, scripts, metrics).

Everything here is read from the repository; nothing runs a container.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from pydantic_settings import BaseSettings

from dockerfile_build import dockerfile_instructions
from polyfhir_bus.indexing.metrics import IndexerMetrics

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "polyfhir"
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class ServicePackage:
    """One deployable service: its directory, distribution, console script and settings."""

    directory: Path
    distribution: str
    script: str
    package: str
    settings: type[BaseSettings]

    @property
    def env_names(self) -> set[str]:
        """The POLYFHIR_* variables its settings class reads."""
        prefix = str(self.settings.model_config.get("env_prefix", "")).upper()
        return {prefix + name.upper() for name in self.settings.model_fields}

    @property
    def default_port(self) -> int:
        return int(self.settings.model_fields["port"].default)

    @property
    def build_args(self) -> dict[str, str]:
        """The build arguments that make the one Dockerfile this service's image."""
        return {"SERVICE": self.directory.name, "PORT": str(self.default_port)}


def _settings_class(package: str) -> type[BaseSettings]:
    module = importlib.import_module(f"{package}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value is not BaseSettings
        and value.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"{module.__name__} should define one BaseSettings class"
    return classes[0]


def load_service(directory: Path) -> ServicePackage:
    project = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
    ((script, target),) = project["scripts"].items()
    package = target.split(":")[0].split(".")[0]
    return ServicePackage(directory, project["name"], script, package, _settings_class(package))


@pytest.fixture(scope="session")
def services() -> dict[str, ServicePackage]:
    """Every service (each ships an image), by directory name (gateway, primary-store, ...)."""
    return {
        path.parent.name: load_service(path.parent)
        for path in sorted((ROOT / "services").glob("*/pyproject.toml"))
    }


@pytest.fixture(scope="session")
def workspace_members() -> list[Path]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: list[Path] = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        members.extend(p.parent for p in sorted(ROOT.glob(f"{pattern}/pyproject.toml")))
    return members


# Every compose check runs over the stack as each supported command line starts it:
# docker-compose.yml alone, and with each overlay in deploy/compose/.
COMPOSE_STACKS = {
    "default": ("docker-compose.yml",),
    "kafka-sasl": ("docker-compose.yml", "deploy/compose/kafka-sasl.yml"),
}


def compose_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``docker compose -f base -f overlay``: mappings merge key by key, anything else
    (a command, a healthcheck's test) is replaced by the overlay's."""
    merged = dict(base)
    for key, value in overlay.items():
        held = merged.get(key)
        merged[key] = (
            compose_merge(held, value)
            if isinstance(held, dict) and isinstance(value, dict)
            else value
        )
    return merged


def load_compose(*files: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in files:
        merged = compose_merge(merged, yaml.safe_load((ROOT / name).read_text()))
    return merged


@pytest.fixture(scope="session", params=list(COMPOSE_STACKS))
def compose(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load_compose(*COMPOSE_STACKS[request.param])


@pytest.fixture(scope="session")
def compose_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


@pytest.fixture(scope="session")
def env_of() -> Callable[[dict[str, Any]], dict[str, str]]:
    """A compose service's environment as a dict of strings."""
    return compose_env


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def helm_template() -> Callable[[str], str]:
    """The body of a named template in the chart's _helpers.tpl."""
    return helm_define


@pytest.fixture(scope="session")
def compose_polyfhir(
    compose_services: dict[str, dict[str, Any]], services: dict[str, ServicePackage]
) -> dict[str, ServicePackage]:
    """Long-running compose services built from the Dockerfile -> the service its
    ``SERVICE`` build argument names (one-shot tasks such as ``migrate`` left out)."""
    built: dict[str, ServicePackage] = {}
    for name, service in compose_services.items():
        build = service.get("build")
        if build and service.get("restart") != "no":
            built[name] = services[build["args"]["SERVICE"]]
    return built


@pytest.fixture(scope="session")
def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def helm_define(name: str) -> str:
    """The body of a named template in the chart's _helpers.tpl."""
    text = (CHART / "templates" / "_helpers.tpl").read_text()
    match = re.search(
        r'\{\{-? define "' + re.escape(name) + r'" -?\}\}(.*?)\{\{-? end \}\}\n\n',
        text + "\n\n",
        re.S,
    )
    assert match, f"no template {name} in _helpers.tpl"
    return match.group(1)


@pytest.fixture(scope="session")
def dockerfile() -> Path:
    """The one Dockerfile every service image is built from."""
    return DOCKERFILE


@pytest.fixture(scope="session")
def image_build() -> Callable[[ServicePackage], list[tuple[str, str]]]:
    """The Dockerfile's instructions with a service's build arguments."""
    return lambda package: dockerfile_instructions(DOCKERFILE, package.build_args)


@dataclass(frozen=True)
class MetricInfo:
    name: str
    kind: str
    labels: tuple[str, ...]


def _metric_modules() -> list[str]:
    modules = ["polyfhir_servicekit.metrics"]
    for package in (
        "polyfhir_gateway",
        "polyfhir_primary",
        "polyfhir_search",
        "polyfhir_graph",
        "polyfhir_terminology",
        "polyfhir_bus",
    ):
        root = importlib.import_module(package)
        found = pkgutil.walk_packages(root.__path__, prefix=f"{package}.")
        modules.extend(info.name for info in found if info.name.rsplit(".", 1)[-1] == "metrics")
    return modules


def _metric_objects(module: ModuleType) -> list[MetricWrapperBase]:
    """The module's metrics, and those of an indexer's kit families (``IndexerMetrics``)."""
    found: list[MetricWrapperBase] = []
    for value in vars(module).values():
        if isinstance(value, IndexerMetrics):
            found.extend(getattr(value, f.name) for f in fields(value))
        elif isinstance(value, MetricWrapperBase):
            found.append(value)
    return found


@pytest.fixture(scope="session")
def registered_metrics() -> dict[str, MetricInfo]:
    """Every sample name the services can expose (name_bucket, name_total, ...) -> its metric."""
    samples: dict[str, MetricInfo] = {}
    for module_name in _metric_modules():
        for value in _metric_objects(importlib.import_module(module_name)):
            info = MetricInfo(value._name, str(value._type), tuple(value._labelnames))
            suffixes = {
                "counter": ("_total",),
                "gauge": ("",),
                "histogram": ("_bucket", "_count", "_sum"),
                "summary": ("_count", "_sum", ""),
            }.get(info.kind, ("",))
            for suffix in suffixes:
                samples[info.name + suffix] = info
    return samples


@pytest.fixture(scope="session")
def everything_values() -> dict[str, Any]:
    """helm/polyfhir/ci/everything-values.yaml: every optional part switched on."""
    loaded: dict[str, Any] = yaml.safe_load((CHART / "ci" / "everything-values.yaml").read_text())
    return loaded
