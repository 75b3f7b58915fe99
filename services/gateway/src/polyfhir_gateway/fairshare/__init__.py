"""Per-tenant fair share: a request-rate token bucket and a bound on concurrent heavy work.

See docs/tenancy.md ("Fair share"). The state is per gateway replica. The
middleware is :class:`polyfhir_gateway.fairshare.middleware.FairShareMiddleware`
(imported from there: the settings import :mod:`.limits` from this package).
"""
