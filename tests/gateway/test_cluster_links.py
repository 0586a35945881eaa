"""Cluster links over real HTTP: a new account presenting infrastructure only a flagged cluster
used is acted on at its first request; egress addresses never link."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from distillguard.detect import online
from distillguard.respond.enforcement import parse_enforcement
from tests.gateway.conftest import GatewayFactory, Keys
from tests.gateway.test_app import CHAT, auth, chat

CARD = "card-fp-4242"
DEVICE = "ja4-campaign-device"
EGRESS = "203.0.113.9"
ADMIN = {"Authorization": "Bearer adm1n"}


def campaign_document(with_links: bool = True) -> dict[str, Any]:
    """The enforcement document an audit writes for one flagged cluster of two members who
    share a card, a client device and an egress address (links from the product's own rule)."""
    members = ["camp-1", "camp-2"]
    carriers: dict[online.LinkKey, set[str]] = {
        ("payment", CARD): set(members),
        ("device", DEVICE): set(members),
        ("ip", EGRESS): set(members),
        ("payment", "card-of-someone-honest"): {"camp-1", "honest-1"},
    }
    links = online.cluster_links({"c-7": members}, carriers, set(members))
    cluster: dict[str, Any] = {
        "cluster_id": "c-7",
        "members": members,
        "score": 0.93,
        "response": "suspend",
    }
    if with_links:
        cluster["links"] = [
            {"kind": kind, "sha256": h} for kind, h in online.link_hashes(links).get("c-7", [])
        ]
    return {"accounts": [], "clusters": [cluster], "known_good": []}


def add(keys: Keys, raw: str, account_id: str, **record: Any) -> str:
    keys.add(raw, account_id)
    keys.principals[raw] = dataclasses.replace(
        keys.principals[raw], account_created_at=datetime(2026, 11, 1, tzinfo=UTC), **record
    )
    return raw


def test_document_links_by_hash_only_and_never_by_egress_address() -> None:
    doc = campaign_document()
    raw = orjson.dumps(doc)
    assert CARD.encode() not in raw and DEVICE.encode() not in raw
    kinds = sorted(link["kind"] for link in doc["clusters"][0]["links"])
    # the honest customer's card is shared with an unflagged account: it never links
    assert kinds == ["device", "payment"]


def test_new_account_on_flagged_card_is_acted_on_at_first_request(
    gateway: GatewayFactory,
) -> None:
    keys = Keys()
    puppet = add(keys, "sk-new", "fresh-puppet", payment_fingerprint=CARD)
    device = add(keys, "sk-dev", "fresh-device", payment_fingerprint="card-other")
    bystander = add(keys, "sk-by", "vpn-user", payment_fingerprint="card-vpn")
    enf = parse_enforcement(orjson.dumps(campaign_document()))
    with gateway(keys, enforcement=enf, trust_forwarded_for=True) as (url, _):
        r = httpx.post(url + CHAT, json=chat(), headers=auth(puppet))
        assert r.status_code == 403, r.text
        action = r.headers["x-distillguard-action"]
        assert "linked to flagged cluster c-7 by payment" in action
        assert CARD not in action
        r = httpx.post(
            url + CHAT,
            json=chat(),
            headers={**auth(device), "X-Client-Fingerprint": DEVICE},
        )
        assert r.status_code == 403
        assert "linked to flagged cluster c-7 by device" in r.headers["x-distillguard-action"]
        # Sharing only the campaign's egress address (a VPN exit) is not a link.
        r = httpx.post(
            url + CHAT, json=chat(), headers={**auth(bystander), "X-Forwarded-For": EGRESS}
        )
        assert r.status_code == 200 and r.headers["x-distillguard-action"] == "allow"


def test_old_format_file_still_loads_and_acts_on_members(gateway: GatewayFactory) -> None:
    enf = parse_enforcement(orjson.dumps(campaign_document(with_links=False)))
    assert not enf.links
    keys = Keys()
    member = add(keys, "sk-m", "camp-1")
    puppet = add(keys, "sk-p", "fresh-puppet", payment_fingerprint=CARD)
    with gateway(keys, enforcement=enf) as (url, _):
        assert httpx.post(url + CHAT, json=chat(), headers=auth(member)).status_code == 403
        assert httpx.post(url + CHAT, json=chat(), headers=auth(puppet)).status_code == 200


def test_reload_picks_up_new_link_keys(gateway: GatewayFactory, tmp_path: Path) -> None:
    keys = Keys()
    puppet = add(keys, "sk-p", "fresh-puppet", payment_fingerprint=CARD)
    path = tmp_path / "enforcement.json"
    path.write_text(json.dumps(campaign_document(with_links=False)))
    with gateway(keys, admin_token="adm1n", enforcement_path=path) as (url, app):
        from distillguard.gateway.server import make_reloader
        from distillguard.settings import Settings

        app.reloader = make_reloader(Settings(gateway=app.settings), None)
        assert httpx.post(url + "/admin/reload", headers=ADMIN).status_code == 200
        assert httpx.post(url + CHAT, json=chat(), headers=auth(puppet)).status_code == 200
        path.write_text(json.dumps(campaign_document()))
        assert httpx.post(url + "/admin/reload", headers=ADMIN).status_code == 200
        r = httpx.post(url + CHAT, json=chat(), headers=auth(puppet))
        assert r.status_code == 403
        assert "linked to flagged cluster c-7 by payment" in r.headers["x-distillguard-action"]
