"""The benign population: realistic shapes and the legitimate look-alikes of theft."""

from __future__ import annotations

from distillguard.simulate import BENIGN_KINDS
from tests.simulate.conftest import text_of


def test_every_benign_kind_is_present(world_db) -> None:  # type: ignore[no-untyped-def]
    kinds = {
        r[0]
        for r in world_db.execute("SELECT DISTINCT kind FROM lab WHERE label = 'benign'").fetchall()
    }
    assert kinds == set(BENIGN_KINDS)
    active = {
        r[0]
        for r in world_db.execute(
            "SELECT DISTINCT kind FROM ev JOIN lab USING (account_id) WHERE label = 'benign'"
        ).fetchall()
    }
    assert active == set(BENIGN_KINDS)


def test_volume_is_heavy_tailed(world_db) -> None:  # type: ignore[no-untyped-def]
    q = world_db.execute(
        "SELECT quantile_cont(n, 0.5), quantile_cont(n, 0.99) FROM (SELECT account_id, count(*) n "
        "FROM ev JOIN lab USING (account_id) WHERE kind = 'developer' GROUP BY ALL)"
    ).fetchone()
    assert q[1] > 8 * q[0]


def test_chat_apps_serve_many_addresses_and_nat_hides_many_accounts(world_db) -> None:  # type: ignore[no-untyped-def]
    ips = world_db.execute(
        "SELECT min(n) FROM (SELECT account_id, count(DISTINCT client_ip) n FROM ev "
        "JOIN lab USING (account_id) WHERE kind = 'chat_app' GROUP BY ALL)"
    ).fetchone()[0]
    assert ips > 100
    nat = world_db.execute(
        "SELECT max(n) FROM (SELECT client_ip, count(DISTINCT account_id) n FROM ev "
        "JOIN lab USING (account_id) WHERE kind = 'corporate_nat' GROUP BY ALL)"
    ).fetchone()[0]
    assert nat >= 5


def test_benign_orgs_share_cards_and_devices_too(world_db) -> None:  # type: ignore[no-untyped-def]
    for field in ("payment_fingerprint", "signup_fingerprint"):
        shared = world_db.execute(
            f"SELECT count(*) FROM (SELECT {field} FROM acc JOIN lab USING (account_id) "
            f"WHERE label = 'benign' AND {field} IS NOT NULL GROUP BY ALL HAVING count(*) >= 3)"
        ).fetchone()[0]
        assert shared >= 2, field


def test_mobile_addresses_churn(world_db) -> None:  # type: ignore[no-untyped-def]
    per_hour = world_db.execute(
        "SELECT median(n) FROM (SELECT account_id, count(DISTINCT client_ip) n FROM ev "
        "JOIN lab USING (account_id) WHERE kind = 'mobile' GROUP BY ALL HAVING count(*) > 20)"
    ).fetchone()[0]
    assert per_hour is None or per_hour >= 3


def test_diurnal_cycle(world_db) -> None:  # type: ignore[no-untyped-def]
    # office accounts are busier in local working hours than at local night
    from distillguard.simulate.infrastructure import COUNTRIES

    offset = {code: hours for code, _, hours in COUNTRIES}
    rows = world_db.execute(
        "SELECT acc.country, hour(ts::TIMESTAMPTZ AT TIME ZONE 'UTC'), count(*) FROM ev "
        "JOIN lab USING (account_id) JOIN acc USING (account_id) "
        "WHERE kind = 'corporate_nat' GROUP BY ALL"
    ).fetchall()
    local = [0] * 24
    for country, hour, n in rows:
        local[int(hour + offset[country]) % 24] += n
    assert sum(local[9:17]) > 5 * sum(local[0:5])


def test_lookalikes_do_what_they_are_named_for(world_db) -> None:  # type: ignore[no-untyped-def]
    evals = text_of(world_db, "kind = 'eval_harness'")
    assert len(evals) > 200
    red = text_of(world_db, "kind = 'red_team_vendor'")
    assert red, "red-team vendors send attack suites"
    batch = text_of(world_db, "kind = 'enterprise_batch'")
    # one template per account over many documents: few distinct first lines, many texts
    firsts = {t.split("\n", 1)[0] for t in batch}
    assert len(set(batch)) > 50 * len(firsts) or len(batch) < 100
    synth = world_db.execute(
        "SELECT count(*) FROM ev JOIN lab USING (account_id) WHERE kind = 'synthetic_data' "
        "AND json_exists(params, '$.n')"
    ).fetchone()[0]
    assert synth > 0
    bursts = world_db.execute(
        "SELECT max(n) FROM (SELECT account_id, date_trunc('minute', ts::TIMESTAMPTZ), count(*) n "
        "FROM ev JOIN lab USING (account_id) WHERE kind = 'eval_harness' GROUP BY ALL)"
    ).fetchone()[0]
    assert bursts >= 10


def test_weekends_are_quieter_for_office_accounts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    from distillguard.simulate import scenario, simulate
    from tests.simulate.giveaways import events_sql, table_sql

    config = scenario("benign_only", seed=8, accounts=100, days=7, volume_scale=0.15)
    s = simulate(config, tmp_path)
    con = duckdb.connect()
    rows = con.execute(
        "SELECT isodow(ts::TIMESTAMPTZ AT TIME ZONE 'UTC') >= 6, count(*) FROM "
        f"{events_sql(s.events_path)} e JOIN {table_sql(s.labels_path)} l "
        "USING (account_id) WHERE l.kind = 'corporate_nat' GROUP BY ALL"
    ).fetchall()
    per_day = {weekend: n / (2 if weekend else 5) for weekend, n in rows}
    assert per_day[True] < 0.5 * per_day[False]
