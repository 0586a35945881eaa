"""The audit's named SQL queries over the store's ``events`` and ``accounts`` tables.

Plain strings, no I/O: the engine runs them through the store's connection and hands the Arrow
results to the pure detectors. Every query aggregates per account in SQL (no Python per event)
and sticks to functions that exist in both DuckDB and Spark SQL (``regexp_extract``, ``lag``
windows, ``count(DISTINCT ...)``, ``approx_count_distinct`` is avoided for exactness).

``{events}`` is the relation to read: the ``events`` table, or in replay a subquery holding the
events up to a cut-off time. ``{accounts}`` is ``accounts`` or an empty relation when the store
has no account records.
"""

from __future__ import annotations

__all__ = [
    "ACCOUNT_FEATURES_SQL",
    "ACTIVE_BUCKETS_SQL",
    "EMPTY_ACCOUNTS",
    "HOUR_HISTOGRAM_SQL",
    "LINK_KEYS_SQL",
    "PREDICT_QUERIES_SQL",
    "PROMPT_TEXT_SQL",
    "SIGNUP_ACCOUNTS_SQL",
    "TEXT_SAMPLE_SQL",
    "events_until",
]

# The prompt text a content detector reads: non-assistant messages joined, else ``prompt``.
# (DuckDB's lambda syntax; Spark spells the same ``m -> m.content``.)
_TEXT = (
    "CASE WHEN messages IS NOT NULL AND len(messages) > 0 THEN "
    "array_to_string(list_transform(list_filter(messages, lambda m: m.role <> 'assistant'), "
    "lambda m: m.content), chr(10)) ELSE prompt END"
)
PROMPT_TEXT_SQL = _TEXT  # the same, for readers outside the detectors

# /24 for IPv4, /48 for IPv6: the unit a proxy provider or a NAT hands out.
_SUBNET = (
    "CASE WHEN contains(client_ip, ':') "
    "THEN array_to_string(string_split(client_ip, ':')[1:3], ':') "
    r"ELSE regexp_extract(client_ip, '^(\d+\.\d+\.\d+)\.', 1) END"
)

EMPTY_ACCOUNTS = (
    "(SELECT CAST(NULL AS VARCHAR) AS account_id, CAST(NULL AS TIMESTAMPTZ) AS created_at, "
    "CAST(NULL AS VARCHAR) AS org_id, CAST(NULL AS VARCHAR) AS email_domain, "
    "CAST(NULL AS VARCHAR) AS verification, CAST(NULL AS VARCHAR) AS payment_fingerprint, "
    "CAST(NULL AS VARCHAR) AS signup_ip, CAST(NULL AS VARCHAR) AS signup_fingerprint, "
    "CAST(NULL AS VARCHAR) AS country, CAST(NULL AS VARCHAR) AS plan WHERE false)"
)


def events_until(cutoff_epoch_s: float) -> str:
    """The events relation restricted to ``ts <= cutoff`` (replay windows)."""
    return f"(SELECT * FROM events WHERE epoch(ts) <= {float(cutoff_epoch_s)!r})"


# One row per account seen in the events. Shares are in [0, 1]; times in epoch seconds.
ACCOUNT_FEATURES_SQL = (
    """
WITH e AS (
    SELECT account_id, org_id, epoch(ts) AS t, endpoint, model, client_ip, asn, country,
           user_agent, client_fingerprint, status,
           coalesce(prompt_tokens, 0) AS pt, coalesce(completion_tokens, 0) AS ct,
           completion_tokens IS NOT NULL AS has_ct,
           lower(coalesce(json_extract_string(params, '$.reasoning_effort'), '')) AS effort,
           lower(coalesce(json_extract_string(params, '$.logprobs'), 'false')) AS logprobs,
           coalesce(TRY_CAST(json_extract_string(params, '$.top_logprobs') AS DOUBLE), 0)
               AS top_logprobs,
           coalesce(TRY_CAST(json_extract_string(params, '$.n') AS DOUBLE), 1) AS n_choices,
           coalesce(TRY_CAST(json_extract_string(params, '$.max_tokens') AS DOUBLE), 0)
               AS max_tokens,
           """
    + _SUBNET
    + """ AS subnet,
           messages IS NOT NULL OR prompt IS NOT NULL AS has_text
    FROM {events}
),
period AS (SELECT min(t) AS t0, max(t) AS t1 FROM e),
gaps AS (
    SELECT account_id, t - lag(t) OVER (PARTITION BY account_id ORDER BY t) AS gap FROM e
),
gap_stats AS (
    SELECT account_id,
           avg(gap) AS gap_mean, stddev_pop(gap) AS gap_std, count(gap) AS n_gaps,
           avg(CASE WHEN gap < 1.0 THEN 1.0 ELSE 0.0 END) AS share_subsecond_gaps
    FROM gaps WHERE gap IS NOT NULL AND gap < 21600 GROUP BY account_id
),
model_first AS (
    SELECT model, min(t) AS first_t, count(*) AS n FROM e GROUP BY model
),
release AS (
    -- The newest model that appeared well after the log started: a release inside the period.
    SELECT m.model, m.first_t FROM model_first m, period p
    WHERE m.first_t > p.t0 + 0.1 * (p.t1 - p.t0) AND m.n >= 20
    ORDER BY m.n DESC LIMIT 1
),
chase AS (
    SELECT e.account_id,
           count(*) AS n_after_release,
           avg(CASE WHEN e.model = r.model THEN 1.0 ELSE 0.0 END) AS share_new_model_after,
           (min(CASE WHEN e.model = r.model THEN e.t END) - max(r.first_t)) / 3600.0
               AS hours_to_new_model
    FROM e, release r WHERE e.t >= r.first_t GROUP BY e.account_id
),
daily AS (
    -- Per account and UTC day: what the volume and rotation detectors judge on a log longer
    -- than a day (a customer's addresses and requests add up over a week, a day's do not).
    SELECT account_id, count(*) AS n, count(DISTINCT subnet) AS subnets,
           count(DISTINCT asn) AS asns, count(DISTINCT country) AS countries,
           count(DISTINCT client_fingerprint) AS fps
    FROM e GROUP BY account_id, CAST(floor(t / 86400) AS BIGINT)
),
day_stats AS (
    SELECT account_id, median(n) AS day_events, median(subnets) AS day_subnets,
           median(asns) AS day_asns, median(countries) AS day_countries,
           median(fps) AS day_fingerprints
    FROM daily GROUP BY account_id
),
acct AS (
    SELECT account_id,
           any_value(org_id) AS event_org_id,
           count(*) AS n_events,
           min(t) AS first_t, max(t) AS last_t,
           count(DISTINCT CAST(floor(t / 3600) AS BIGINT)) AS active_hours,
           count(DISTINCT CAST(floor(t / 86400) AS BIGINT)) AS active_days,
           avg(pt) AS mean_prompt_tokens, avg(ct) AS mean_completion_tokens,
           sum(pt + ct) AS total_tokens,
           avg(CASE WHEN has_ct THEN 1.0 ELSE 0.0 END) AS share_has_tokens,
           avg(CASE WHEN asn IS NOT NULL THEN 1.0 ELSE 0.0 END) AS share_has_asn,
           avg(CASE WHEN country IS NOT NULL THEN 1.0 ELSE 0.0 END) AS share_has_country,
           avg(CASE WHEN ct >= 1000 THEN 1.0 ELSE 0.0 END) AS share_long_completion,
           avg(CASE WHEN effort IN ('high', 'max', 'maximum') THEN 1.0 ELSE 0.0 END)
               AS share_reasoning_high,
           avg(CASE WHEN logprobs = 'true' OR top_logprobs > 0 THEN 1.0 ELSE 0.0 END)
               AS share_logprobs,
           avg(CASE WHEN n_choices > 1 THEN 1.0 ELSE 0.0 END) AS share_multi_choice,
           avg(CASE WHEN max_tokens >= 4000 THEN 1.0 ELSE 0.0 END) AS share_max_tokens_large,
           avg(CASE WHEN endpoint = 'predict' THEN 1.0 ELSE 0.0 END) AS share_predict,
           avg(CASE WHEN endpoint = 'embeddings' THEN 1.0 ELSE 0.0 END) AS share_embeddings,
           avg(CASE WHEN has_text THEN 1.0 ELSE 0.0 END) AS share_has_text,
           avg(CASE WHEN status = 429 THEN 1.0 ELSE 0.0 END) AS share_rate_limited,
           avg(CASE WHEN status >= 400 THEN 1.0 ELSE 0.0 END) AS share_errors,
           count(DISTINCT client_ip) AS n_ips,
           count(DISTINCT subnet) AS n_subnets,
           count(DISTINCT asn) AS n_asns,
           count(DISTINCT country) AS n_countries,
           count(DISTINCT client_fingerprint) AS n_fingerprints,
           count(DISTINCT user_agent) AS n_user_agents,
           count(DISTINCT model) AS n_models,
           mode(country) AS main_country
    FROM e GROUP BY account_id
)
SELECT a.*,
       (a.last_t - a.first_t) / 86400.0 AS span_days,
       d.day_events, d.day_subnets, d.day_asns, d.day_countries, d.day_fingerprints,
       coalesce(g.gap_mean, 0) AS gap_mean, coalesce(g.gap_std, 0) AS gap_std,
       coalesce(g.n_gaps, 0) AS n_gaps,
       coalesce(g.share_subsecond_gaps, 0) AS share_subsecond_gaps,
       coalesce(c.n_after_release, 0) AS n_after_release,
       coalesce(c.share_new_model_after, 0) AS share_new_model_after,
       c.hours_to_new_model AS hours_to_new_model,
       (SELECT max(first_t) FROM release) AS release_t,
       p.t0 AS period_start, p.t1 AS period_end,
       epoch(acc.created_at) AS created_t,
       coalesce(acc.org_id, a.event_org_id) AS org_id,
       acc.verification AS verification, acc.plan AS plan, acc.email_domain AS email_domain,
       acc.country AS declared_country,
       acc.account_id IS NOT NULL AS has_account_record
FROM acct a
CROSS JOIN period p
LEFT JOIN day_stats d USING (account_id)
LEFT JOIN gap_stats g USING (account_id)
LEFT JOIN chase c USING (account_id)
LEFT JOIN {accounts} acc ON acc.account_id = a.account_id
ORDER BY a.account_id
"""
)

# Requests per account per UTC hour of day (0-23), for the diurnal profile.
HOUR_HISTOGRAM_SQL = """
SELECT account_id, CAST(floor((epoch(ts) % 86400) / 3600) AS INTEGER) AS hour, count(*) AS n
FROM {events} GROUP BY 1, 2 ORDER BY 1, 2
"""

# A sample of each account's distinct prompt texts with how often each was sent. Sampling is by
# a hash of the text so that it is deterministic and the same text is kept (or not) for every
# account that sent it, which lets texts be scored once.
TEXT_SAMPLE_SQL = (
    """
WITH t AS (
    SELECT account_id, """
    + _TEXT
    + """ AS text FROM {events}
),
d AS (
    SELECT account_id, hash(text) AS h, any_value(text) AS text, count(*) AS n
    FROM t WHERE text IS NOT NULL AND length(text) > 0 GROUP BY account_id, hash(text)
),
r AS (
    SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY h) AS rk,
           count(*) OVER (PARTITION BY account_id) AS n_distinct
    FROM d
)
SELECT account_id, h, text, n, n_distinct FROM r WHERE rk <= {per_account}
ORDER BY account_id, h
"""
)

# The inputs of predict requests, a bounded sample per account in time order (PRADA works on
# the stream as it arrives).
PREDICT_QUERIES_SQL = """
WITH p AS (
    SELECT account_id, epoch(ts) AS t, features,
           row_number() OVER (PARTITION BY account_id ORDER BY ts, request_id) AS rk
    FROM {events}
    WHERE endpoint = 'predict' AND features IS NOT NULL AND len(features) > 0
)
SELECT account_id, t, features FROM p WHERE rk <= {per_account} ORDER BY account_id, t
"""

# (account, link kind, shared value) triples for the account network. Subnets carry a day
# bucket (a subnet is shared widely over time); an address counts once however many days two
# accounts shared it, so colleagues behind one NAT gain no strength day after day. Values shared
# by too many accounts are dropped later by document frequency.
LINK_KEYS_SQL = (
    """
WITH e AS (
    SELECT account_id, client_ip, asn, client_fingerprint, """
    + _SUBNET
    + """ AS subnet,
           CAST(floor(epoch(ts) / 86400) AS BIGINT) AS day
    FROM {events}
),
seen AS (SELECT DISTINCT account_id FROM e)
SELECT DISTINCT account_id, 'ip' AS kind, client_ip AS value
FROM e
UNION ALL
SELECT DISTINCT account_id, 'subnet', subnet || '/' || coalesce(CAST(asn AS VARCHAR), '?')
    || '@' || CAST(day AS VARCHAR)
FROM e WHERE subnet IS NOT NULL AND subnet <> ''
UNION ALL
SELECT DISTINCT account_id, 'device', client_fingerprint FROM e
WHERE client_fingerprint IS NOT NULL AND client_fingerprint <> ''
UNION ALL
SELECT a.account_id, 'payment', a.payment_fingerprint FROM {accounts} a JOIN seen USING (account_id)
WHERE a.payment_fingerprint IS NOT NULL AND a.payment_fingerprint <> ''
UNION ALL
SELECT a.account_id, 'signup_device', a.signup_fingerprint FROM {accounts} a
JOIN seen USING (account_id)
WHERE a.signup_fingerprint IS NOT NULL AND a.signup_fingerprint <> ''
"""
)

# The account records of the accounts seen in the events, for identity's sign-up risk (bursts of
# sign-ups from one network or AS, fresh e-mail domains signing up in bursts): its groups become
# ``signup_burst`` and ``signup_domain`` links of the account network.
SIGNUP_ACCOUNTS_SQL = """
SELECT a.account_id, a.created_at, a.org_id, a.email_domain, a.signup_ip, a.country
FROM {accounts} a JOIN (SELECT DISTINCT account_id FROM {events}) USING (account_id)
WHERE a.created_at IS NOT NULL
"""

# Which 5-minute buckets each account was active in: synchronised activity (SynchroTrap) is
# measured on these for pairs of accounts already linked by something else.
ACTIVE_BUCKETS_SQL = """
SELECT DISTINCT account_id, CAST(floor(epoch(ts) / 300) AS BIGINT) AS q FROM {events}
ORDER BY 1, 2
"""
