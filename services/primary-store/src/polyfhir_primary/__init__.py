"""Authoritative store: versions, history, transactions, outbox, primary search."""
