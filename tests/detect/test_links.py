"""The audit's cluster links: carriers read from the store, the online module's rule applied."""

from __future__ import annotations

import duckdb

from distillguard.detect import online
from distillguard.detect.links import link_carriers


def test_link_carriers_reads_devices_and_records_of_accounts_that_called() -> None:
    con = duckdb.connect()
    con.sql(
        "CREATE TABLE events AS SELECT * FROM (VALUES "
        "('a', 'dev-1', NULL), ('b', 'dev-1', NULL), ('c', NULL, 'org-9')) "
        "t(account_id, client_fingerprint, org_id)"
    )
    con.sql(
        "CREATE TABLE accounts AS SELECT account_id, CAST(created_at AS TIMESTAMPTZ) AS "
        "created_at, org_id, payment_fingerprint, signup_ip, signup_fingerprint, verification, "
        "plan, country FROM (VALUES "
        "('a', '2026-11-01 10:05:00+00', NULL, 'card-1', '198.51.100.7', NULL, 'none', NULL, NULL),"
        "('b', '2026-11-01 10:40:00+00', NULL, 'card-1', '198.51.100.9', 'sd-1', 'none', NULL, NULL),"  # noqa: E501
        "('z', '2026-11-01 10:40:00+00', NULL, 'card-1', NULL, NULL, 'none', NULL, NULL)) "
        "t(account_id, created_at, org_id, payment_fingerprint, signup_ip, signup_fingerprint, "
        "verification, plan, country)"
    )
    carriers = link_carriers(con)
    assert carriers[("device", "dev-1")] == {"a", "b"}
    # z never made a request: the gateway would not have met it yet
    assert carriers[("payment", "card-1")] == {"a", "b"}
    assert carriers[("org", "org-9")] == {"c"}
    burst = [k for k in carriers if k[0] == "signup_burst"]
    assert len(burst) == 1 and carriers[burst[0]] == {"a", "b"}
    links = online.cluster_links({"c-1": ["a", "b"]}, carriers, {"a", "b"})
    assert set(links.keys) == {("device", "dev-1"), ("payment", "card-1"), burst[0]}
