"""The fair-share ASGI middleware: 429 + ``Retry-After`` + OperationOutcome over a limit.

It resolves the caller once (kept on ``request.state`` for the routes), classifies
the request (:mod:`.work_kind`), spends a token of the tenant's budget, and holds a
heavy-work slot for as long as a heavy request runs. A request whose caller cannot
be resolved (no or bad token, a bad tenant id) passes untouched: the route answers
it (401/403/400) as before.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polyfhir_core.errors import FhirError, Issue, operation_outcome
from polyfhir_core.jobs import JobState, JobStore
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.api.fhir_json import fhir_response
from polyfhir_gateway.fairshare.fair_queue import FairQueue, QueueTimeout
from polyfhir_gateway.fairshare.limiter import Budget, FairShare, Throttled
from polyfhir_gateway.fairshare.work_kind import (
    HeavySearch,
    Pairs,
    WorkKind,
    classify,
    reads_form_body,
)
from polyfhir_gateway.security.caller import Caller, resolve_caller
from polyfhir_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

# A POST _search form is read up to this size to classify it; a larger one is heavy.
FORM_PEEK_BYTES = 64 * 1024
_LIMITED_PREFIXES = ("/fhir", "/admin")
_FORM = "application/x-www-form-urlencoded"
_JOBS_LISTED = 1000


class _PeekedBody:
    """The messages read ahead, replayed before the rest of the body."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._read: list[Message] = []
        self.body = b""
        self.complete = False

    async def peek(self, limit: int) -> None:
        while len(self.body) <= limit:
            message = await self._receive()
            self._read.append(message)
            if message["type"] != "http.request":
                return
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                self.complete = True
                return

    async def receive(self) -> Message:
        if self._read:
            return self._read.pop(0)
        return await self._receive()


def _is_form(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media_type: str = value.decode("latin-1").split(";")[0].strip().lower()
            return media_type == _FORM
    return True  # FHIR's default for POST _search


class FairShareMiddleware:
    def __init__(self, app: ASGIApp, settings: GatewaySettings, jobs: JobStore) -> None:
        self.app = app
        self.jobs = jobs
        self.fair = FairShare(settings.tenant_limits, settings.tenant_metrics_max)
        self.heavy = HeavySearch(
            settings.heavy_search_complexity, settings.heavy_search_include_count
        )
        self.queue = (
            FairQueue(settings.max_in_flight, settings.queue_timeout_s)
            if settings.max_in_flight is not None
            else None
        )
        self.enabled = self.fair.table.enabled or self.queue is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not self.enabled or not path.startswith(_LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            caller = await resolve_caller(Request(scope, receive))
        except FhirError:
            await self.app(scope, receive, send)  # the route answers 401/403/400
            return
        receive, kind = await self._classify(scope, receive)
        await self._admit(scope, receive, send, caller, kind)

    async def _classify(self, scope: Scope, receive: Receive) -> tuple[Receive, WorkKind]:
        method, path = scope["method"], scope["path"]
        pairs: Pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
        if reads_form_body(method, path) and _is_form(scope):
            peeked = _PeekedBody(receive)
            await peeked.peek(FORM_PEEK_BYTES)
            if not peeked.complete:
                return peeked.receive, WorkKind.HEAVY
            form = parse_qsl(peeked.body.decode("utf-8", "replace"), keep_blank_values=True)
            return peeked.receive, classify(method, path, [*pairs, *form], self.heavy)
        return receive, classify(method, path, pairs, self.heavy)

    async def _admit(
        self, scope: Scope, receive: Receive, send: Send, caller: Caller, kind: WorkKind
    ) -> None:
        if kind in (WorkKind.EXEMPT, WorkKind.ADMIN):
            await self.app(scope, receive, send)
            return
        budget = self.fair.budget(caller.tenant)
        refused = self.fair.take_token(budget) if scope["path"].startswith("/fhir") else None
        if refused is None and kind is WorkKind.JOB:
            refused = await self._check_jobs(budget, caller)
        if refused is None and kind is WorkKind.LIGHT:
            await self._run(scope, receive, send, budget)
            return
        if refused is None:
            refused = self.fair.enter_heavy(budget)
        if refused is not None:
            await _throttled(refused)(scope, receive, send)
            return
        try:
            await self._run(scope, receive, send, budget)
        finally:
            self.fair.leave_heavy(budget)

    async def _run(self, scope: Scope, receive: Receive, send: Send, budget: Budget) -> None:
        """The request, in one of the replica's slots when ``max_in_flight`` bounds them."""
        if self.queue is None:
            await self.app(scope, receive, send)
            return
        try:
            await self.queue.acquire(budget.key, budget.label)
        except QueueTimeout:
            await _busy(self.queue.timeout_s)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.queue.release()

    async def _check_jobs(self, budget: Budget, caller: Caller) -> Throttled | None:
        if budget.limits.max_jobs is None:
            return None
        ctx = TenantContext(caller.tenant, caller.permissions)
        try:
            jobs = await self.jobs.list_jobs(ctx, None, _JOBS_LISTED)
        except FhirError as exc:  # the kick-off itself will meet the same failure
            log.warning("fair share: cannot count the running jobs of %s: %s", caller.tenant, exc)
            return None
        running = sum(1 for job in jobs if job.state is JobState.RUNNING)
        return self.fair.check_jobs(budget, running)


def _busy(waited_s: float) -> ASGIApp:
    message = f"the server is busy: no request slot freed up within {waited_s:g} s"
    outcome = operation_outcome([Issue(code="transient", diagnostics=message)])
    return fhir_response(outcome, 503, {"Retry-After": str(max(1, round(waited_s)))})


def _throttled(refused: Throttled) -> ASGIApp:
    outcome = operation_outcome([Issue(code="throttled", diagnostics=refused.message)])
    headers = {"Retry-After": str(refused.retry_after_s)}
    return fhir_response(outcome, 429, headers)
