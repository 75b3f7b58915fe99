# syntax=docker/dockerfile:1
# polyfhir: one image per service, all from this file. Build from the repository root:
#   docker build --build-arg SERVICE=gateway --build-arg PORT=8080 -t polyfhir/gateway .
# SERVICE is the directory under services/ (gateway, primary-store, search-indexer,
# graph-indexer, terminology-indexer): it installs the distribution polyfhir-${SERVICE}
# and runs its console script of the same name. PORT is that service's default port
# (8080 gateway, 8081 primary-store, 8082 search-indexer, 8083 graph-indexer,
# 8084 terminology-indexer); docker-compose.yml passes both for each service.
ARG PYTHON_IMAGE=python:3.11-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ARG PORT
RUN test -n "${SERVICE}" && test -n "${PORT}" \
    || { echo "build with --build-arg SERVICE=<directory under services/> --build-arg PORT=<its port>" >&2; exit 1; }
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependency layer: only the lock file and every workspace member's pyproject.toml,
# so it is rebuilt when dependencies change, not when source changes.
COPY uv.lock pyproject.toml ./
COPY libs/bus/pyproject.toml libs/bus/
COPY libs/core/pyproject.toml libs/core/
COPY libs/engines/pyproject.toml libs/engines/
COPY libs/servicekit/pyproject.toml libs/servicekit/
COPY libs/testing/pyproject.toml libs/testing/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/primary-store/pyproject.toml services/primary-store/
COPY services/search-indexer/pyproject.toml services/search-indexer/
COPY services/graph-indexer/pyproject.toml services/graph-indexer/
COPY services/terminology-indexer/pyproject.toml services/terminology-indexer/
# Bytecode compiled at build time: a container starts without compiling its imports.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --compile-bytecode --no-install-workspace --package polyfhir-${SERVICE}
# Source layer: the workspace packages themselves, installed as wheels (not editable).
COPY libs libs
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --compile-bytecode --package polyfhir-${SERVICE}

FROM ${PYTHON_IMAGE}
ARG SERVICE
ARG PORT
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home polyfhir \
    && mkdir -p /app/data && chown polyfhir:polyfhir /app/data
COPY --from=build --chown=polyfhir:polyfhir /app/.venv /app/.venv
# An exec-form CMD expands no variables, so the console script's name is kept in
# the image's environment and the shell replaces itself with it (the service is
# PID 1 and gets docker stop's SIGTERM).
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 \
    POLYFHIR_HOST=0.0.0.0 POLYFHIR_PORT=${PORT} \
    SERVICE_SCRIPT=polyfhir-${SERVICE}
WORKDIR /app
USER polyfhir:polyfhir
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ['POLYFHIR_PORT'], timeout=2)"
CMD ["/bin/sh", "-c", "exec \"$SERVICE_SCRIPT\""]
