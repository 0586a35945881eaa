"""The cluster links of an audit: what ``enforcement.json`` tells the gateway to match per request.

The replay (``detect.replay``) rebuilds the links after every periodic audit from the requests
it has seen; the audit proper does the same once, over its whole log, with the same rule
(``detect.online.cluster_links``) and the same keys (``account_keys`` of each account that made a
request, ``request_keys`` of every request), so that the gateway acts on the links the replay's
figures assume.
"""

from __future__ import annotations

from typing import Any

from distillguard.detect import online
from distillguard.detect.verdicts import AuditResult

__all__ = ["audit_links", "link_carriers"]

_FINGERPRINTS_SQL = """
SELECT DISTINCT account_id, client_fingerprint FROM events
WHERE client_fingerprint IS NOT NULL AND client_fingerprint <> ''
"""


def link_carriers(con: Any) -> dict[online.LinkKey, set[str]]:
    """Each linking key and the accounts seen with it in ``events``: client fingerprints of the
    requests, and the account-record keys of every account that made a request."""
    from distillguard.detect.engine import _accounts_relation
    from distillguard.detect.replay import account_facts

    carriers: dict[online.LinkKey, set[str]] = {}
    for acc, fp in con.sql(_FINGERPRINTS_SQL).fetchall():
        for k in online.request_keys(None, fp):
            carriers.setdefault(k, set()).add(str(acc))
    for acc, facts in account_facts(con, _accounts_relation(con)).items():
        for k in facts.keys():
            carriers.setdefault(k, set()).add(str(acc))
    return carriers


def audit_links(con: Any, result: AuditResult) -> online.ClusterLinks:
    """The links of the audit's flagged clusters: keys at least two flagged members carry and
    no unflagged account does (accounts a known-good override cleared count as unflagged)."""
    flagged_clusters = {c.cluster_id: c.members for c in result.clusters if c.flagged}
    if not flagged_clusters:
        return online.ClusterLinks()
    flagged = {a.account_id for a in result.accounts if a.flagged}
    return online.cluster_links(flagged_clusters, link_carriers(con), flagged)
