"""No giveaways: no single field value separates campaign accounts from customers.

A value used by five or more accounts of which 90 % or more are malicious fails the test,
unless it is a campaign's own shared infrastructure (``SimulationSummary.owned``: payment
cards, sign-up devices and networks, egress addresses), documented in README as genuine
coordination evidence.
"""

from __future__ import annotations

from distillguard.simulate.fixtures import WorldPaths
from tests.simulate.giveaways import id_shapes, scan


def test_no_field_value_gives_campaigns_away(mixed_world: WorldPaths) -> None:
    found = scan(
        mixed_world.events, mixed_world.accounts, mixed_world.labels, mixed_world.summary.owned
    )
    assert found == []


def test_identifier_and_timestamp_shapes_do_not_depend_on_the_label(
    mixed_world: WorldPaths,
) -> None:
    for field, by_label in id_shapes(
        mixed_world.events, mixed_world.accounts, mixed_world.labels
    ).items():
        assert by_label["benign"] == by_label["malicious"], field


def test_owned_values_are_kinds_that_customers_share_too(world_db) -> None:  # type: ignore[no-untyped-def]
    # Cards and sign-up devices shared by several accounts exist among customers as well.
    for field in ("payment_fingerprint", "signup_fingerprint"):
        n = world_db.execute(
            f"SELECT count(*) FROM (SELECT {field} FROM acc JOIN lab USING (account_id) "
            f"WHERE label = 'benign' AND {field} IS NOT NULL GROUP BY ALL HAVING count(*) >= 2)"
        ).fetchone()[0]
        assert n > 0, field
    # Customers also sign up with disposable e-mail and go through VPN exits.
    assert (
        world_db.execute(
            "SELECT count(*) FROM acc JOIN lab USING (account_id) WHERE label = 'benign' AND "
            "email_domain IN ('mailinator.com','guerrillamail.com','10minutemail.com',"
            "'temp-mail.org','yopmail.com','sharklasers.com')"
        ).fetchone()[0]
        > 0
    )
