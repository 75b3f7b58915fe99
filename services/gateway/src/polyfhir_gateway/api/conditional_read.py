"""Conditional read (http.html#cread): ``If-None-Match`` and ``If-Modified-Since``.

Pure decisions over request header values and the stored version, so the rules are
unit-tested without a server. ``If-None-Match`` wins when both are sent (RFC 9110 §13.2.2).
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime


def _modified_since(header: str) -> datetime | None:
    """The instant an ``If-Modified-Since`` names, or None when it is not an HTTP date."""
    try:
        value = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo is not None else None


def is_not_modified(
    *,
    if_none_match: str | None,
    if_modified_since: str | None,
    etag: str,
    version: int,
    last_updated: datetime,
) -> bool:
    """True when a read should answer 304 Not Modified.

    HTTP dates carry whole seconds, so a resource counts as unchanged when its
    ``lastUpdated`` truncated to the second is not after the client's date. A date that
    cannot be parsed is ignored, as RFC 9110 requires.
    """
    if if_none_match:
        return if_none_match.strip() in (etag, f'"{version}"')
    if not if_modified_since:
        return False
    since = _modified_since(if_modified_since)
    if since is None:
        return False
    return last_updated.replace(microsecond=0) <= since
