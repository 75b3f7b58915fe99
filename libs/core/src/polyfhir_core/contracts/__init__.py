"""The services' contracts: one Protocol per service, with the data types it exchanges.

Each Protocol is the single source of its service's internal API: the server
routes and the client proxy are derived from it (``polyfhir_servicekit.contract``).
"""
