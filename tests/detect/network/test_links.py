"""Account-network links: shared operator infrastructure links, public infrastructure does not."""

from __future__ import annotations

import numpy as np

from distillguard.detect.network.communities import find_communities
from distillguard.detect.network.links import KIND_WEIGHTS, build_links, value_weight


def _edges(graph) -> dict[tuple[int, int], float]:
    return {
        (int(a), int(b)): float(w)
        for a, b, w in zip(graph.src, graph.dst, graph.weight, strict=True)
    }


def test_value_weight_falls_with_the_number_of_accounts_sharing_it() -> None:
    w = value_weight(np.array([2, 10, 40]))
    assert w[0] > w[1] > w[2]


def test_operator_accounts_sharing_card_device_and_addresses_link_strongly() -> None:
    rows, kinds, values = [], [], []
    for a in range(4):
        rows += [a, a, a, a]
        kinds += ["payment", "signup_device", "ip", "ip"]
        values += ["card-1", "dev-1", "203.0.113.5", "203.0.113.6"]
    g = build_links(np.array(rows), np.array(kinds), np.array(values), 4)
    e = _edges(g)
    assert len(e) == 6  # every pair
    assert min(e.values()) > 0.6
    assert (g.specific > 0.5).all()


def test_corporate_nat_and_chat_app_addresses_do_not_link_strangers_strongly() -> None:
    # 40 colleagues behind one NAT address, and 40 end users of a chat app's backend address
    rows = list(range(80))
    kinds = ["ip"] * 80
    values = ["198.51.100.1"] * 40 + ["192.0.2.77"] * 40
    g = build_links(np.array(rows), np.array(kinds), np.array(values), 80)
    assert g.weight.size == 0 or g.weight.max() < 0.2
    # a value shared by more accounts than max_df_infra is public infrastructure: no edges
    g2 = build_links(np.array(rows), np.array(kinds), np.array(["vpn-exit"] * 80), 80)
    assert g2.weight.size == 0


def test_payment_shared_inside_one_organisation_counts_less() -> None:
    rows = np.array([0, 1, 2, 3])
    kinds = np.array(["payment"] * 4)
    values = np.array(["card-A", "card-A", "card-B", "card-B"])
    orgs = np.array(["org-1", "org-1", None, None], dtype=object)
    g = build_links(rows, kinds, values, 4, orgs=orgs, min_weight=0.0)
    e = _edges(g)
    assert e[(0, 1)] < e[(2, 3)]


def test_synchronised_activity_adds_evidence_only_beyond_chance() -> None:
    rows = np.array([0, 1, 2, 3])
    kinds = np.array(["subnet"] * 4)
    values = np.array(["s1", "s1", "s2", "s2"])
    lockstep = np.arange(0, 200, 10)
    always_on = np.arange(0, 200)
    buckets = {0: lockstep, 1: lockstep + 0, 2: always_on, 3: always_on}
    g = build_links(rows, kinds, values, 4, active_buckets=buckets, min_weight=0.0)
    sync = dict(
        zip(zip(g.src.tolist(), g.dst.tolist(), strict=True), g.by_kind["sync"], strict=True)
    )
    assert sync[(0, 1)] > 0.9  # sparse and identical: a scheduler
    assert sync[(2, 3)] == 0.0  # both busy all the time: overlap by chance


def test_communities_separate_two_operators_and_leave_loners_out() -> None:
    rows, kinds, values = [], [], []
    for a in range(5):
        rows += [a, a]
        kinds += ["payment", "device"]
        values += ["card-X", "fp-X"]
    for a in range(5, 10):
        rows += [a, a]
        kinds += ["payment", "device"]
        values += ["card-Y", "fp-Y"]
    rows.append(10)
    kinds.append("payment")
    values.append("card-Z")
    g = build_links(np.array(rows), np.array(kinds), np.array(values), 11)
    comm = find_communities(g)
    assert len(set(comm.label[:5])) == 1 and len(set(comm.label[5:10])) == 1
    assert comm.label[0] != comm.label[5]
    assert comm.label[10] == -1
    assert (comm.strength[:10] > 0.5).all()


def test_a_few_coincident_buckets_in_shared_hours_are_not_synchrony() -> None:
    # Two people active in the same hours who met on one proxy exit a few times: the hours
    # overlap fully, the 5-minute buckets only by chance plus a handful of coincidences.
    rng = np.random.default_rng(7)
    hours = np.arange(9, 17)
    qa = np.unique(np.concatenate([h * 12 + rng.choice(12, 3, replace=False) for h in hours]))
    qb = np.unique(np.concatenate([h * 12 + rng.choice(12, 3, replace=False) for h in hours]))
    qb = np.unique(np.concatenate([qb, qa[:3]]))
    rows = np.array([0, 1])
    g = build_links(
        rows,
        np.array(["ip", "ip"]),
        np.array(["exit-1", "exit-1"]),
        2,
        active_buckets={0: qa, 1: qb},
        min_weight=0.0,
    )
    assert float(g.by_kind["sync"][0]) == 0.0


def test_a_fleet_sharing_a_set_of_egress_addresses_is_linked_however_many_share_it() -> None:
    # 70 accounts each send through most of one operator's 6 egress addresses (plus their own
    # proxy address): more accounts than max_df_infra, but they share a *set*, not one exit.
    rows, kinds, values = [], [], []
    for a in range(70):
        for ip in range(6):
            if (a + ip) % 6 != 0:
                rows.append(a)
                kinds.append("ip")
                values.append(f"egress-{ip}")
        rows.append(a)
        kinds.append("ip")
        values.append(f"own-{a}")
    g = build_links(np.array(rows), np.array(kinds), np.array(values), 70)
    assert g.weight.size > 0 and float(np.median(g.weight)) > 0.3
    assert float(g.specific.max()) == 0.0  # addresses alone never lift anybody


def test_a_fleet_stamping_one_rare_template_is_linked_and_the_link_is_specific() -> None:
    # 60 accounts of 60 orgs share one template (as many accounts as share a public address
    # that says nothing), and a team of 5 shares its in-house tool inside one org
    rows = np.arange(65)
    kinds = np.array(["template"] * 65)
    values = np.array(["tpl:operator"] * 60 + ["tpl:team"] * 5)
    orgs = np.array([f"org{i}" for i in range(60)] + ["acme"] * 5, dtype=object)
    g = build_links(rows, kinds, values, 65, orgs=orgs, min_weight=0.0)
    e = _edges(g)
    fleet = [w for (a, b), w in e.items() if b < 60]
    team = [w for (a, b), w in e.items() if a >= 60]
    assert min(fleet) > 0.3
    assert max(team) < min(fleet)
    assert np.allclose(g.specific, g.weight)
    assert "tpl:operator" in g.shared["template"][0]


def test_template_link_keys_name_the_template_and_its_size() -> None:
    from distillguard.detect.network.links import template_link_keys

    rng = np.random.default_rng(0)
    words = "river stone lantern orbit copper meadow signal harbor velvet prism tundra".split()
    rows, texts = [], []
    for acc in range(12):
        for k in range(20):
            q = " ".join(rng.choice(words, 8))
            framed = acc < 6 and k % 3 == 0
            rows.append(acc)
            texts.append(
                f"Act as a methodical analyst. Resolve the following case without shortcuts.\n{q}"
                if framed
                else q
            )
    orgs = np.array([f"org{i}" for i in range(12)], dtype=object)
    found = template_link_keys(np.array(rows), texts, orgs)
    keys = found.values
    assert set(keys) == set(range(6))
    value = keys[0][0]
    assert value.startswith("tpl:") and "(6 accounts)" in value and "methodical analyst" in value
    # every third prompt of each member carries the template
    assert set(found.share) == set(range(6))
    assert all(abs(v - 7 / 20) < 1e-9 for v in found.share.values())


def test_addresses_shared_by_three_or_more_are_kept_as_groups_however_weak() -> None:
    rows = [*range(30), 40, 41, 50, 51, 52, 50, 51, 52]
    kinds = ["ip"] * 32 + ["ip"] * 3 + ["device"] * 3
    values = ["exit"] * 30 + ["pair", "pair"] + ["trio"] * 3 + ["dev"] * 3
    g = build_links(np.array(rows), np.array(kinds), np.array(values), 60)
    groups = sorted(tuple(m.tolist()) for m in g.groups)
    assert groups == [tuple(range(30)), (50, 51, 52)]  # not the pair, not the device
    # the client fingerprint shared by three is kept apart, for its users' behaviour to judge
    assert [m.tolist() for m in g.key_groups] == [[50, 51, 52]]
    few = build_links(np.array(rows), np.array(kinds), np.array(values), 60, max_df_key=2)
    assert few.key_groups == ()
    strangers = (g.src < 30) & (g.dst < 30)
    assert not strangers.any()  # one exit shared by thirty links nobody


def test_template_links_are_kept_apart_with_each_accounts_carrying_share() -> None:
    # a fleet of 4 shares a card and a template; account 4 shares only the template
    rows = [0, 1, 2, 3, 0, 1, 2, 3, 4]
    kinds = ["payment"] * 4 + ["template"] * 5
    values = ["card-1"] * 4 + ["tpl:operator"] * 5
    share = {0: 0.8, 1: 0.8, 2: 0.8, 3: 0.8, 4: 0.1}
    g = build_links(np.array(rows), np.array(kinds), np.array(values), 5, template_share=share)
    assert np.allclose(g.template_share, [0.8, 0.8, 0.8, 0.8, 0.1])
    alpha = KIND_WEIGHTS["template"][0]
    t = alpha * g.by_kind["template"]
    # without the template the edges keep their card, and the template is all that ties 4
    assert np.allclose(1.0 - (1.0 - g.specific_untemplated) * (1.0 - t), g.specific)
    assert np.allclose(1.0 - (1.0 - g.weight_untemplated) * (1.0 - t), g.weight)
    to_4 = g.dst == 4
    assert to_4.any() and np.allclose(g.specific_untemplated[to_4], 0.0)
    assert (g.specific_untemplated[~to_4] > 0.4).all()
