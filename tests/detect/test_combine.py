"""The lift counts a member's links towards the suspicious members of its cluster."""

from __future__ import annotations

import numpy as np

from distillguard.detect.combine import cluster_scores, guilty_strength, lift, lift_from_guilty

# rows 0-5: a fleet (four look guilty alone, two with a little doubt on the fleet's card);
# rows 6-9: customers that modularity merged into the fleet's community, linked to each other
# by a shared SDK fingerprint, one of them (6) with some doubt of its own.
OWN = np.array([0.9, 0.92, 0.88, 0.95, 0.2, 0.22, 0.25, 0.02, 0.03, 0.02])
FLEET = [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (0, 4), (1, 5), (2, 5)]
CUSTOMERS = [(6, 7), (6, 8), (7, 9)]
# one address-only edge (no specific weight) ties the customers to the fleet
WEAK = [(5, 6)]


def _graph() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pairs = FLEET + CUSTOMERS + WEAK
    src = np.array([a for a, _ in pairs])
    dst = np.array([b for _, b in pairs])
    # the fleet's card is strong; a fingerprint that several customers share, weaker
    specific = np.array([0.6] * len(FLEET) + [0.3] * len(CUSTOMERS) + [0.0] * len(WEAK))
    return src, dst, specific


def _plain_strength(src: np.ndarray, dst: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    deg = np.zeros(n)
    np.add.at(deg, src, w)
    np.add.at(deg, dst, w)
    return np.asarray(1.0 - np.exp(-deg))


def test_guilty_strength_is_the_plain_strength_when_everybody_is_suspicious() -> None:
    src, dst, w = _graph()
    label = np.zeros(10, dtype=np.int64)
    plain = _plain_strength(src, dst, w, 10)
    assert np.allclose(guilty_strength(src, dst, w, label, np.ones(10)), plain)
    # links to members of another cluster, or to accounts in none, count for nothing
    split = np.array([0] * 6 + [1] * 3 + [-1])
    s = guilty_strength(src, dst, w, split, np.ones(10))
    assert s[9] == 0.0 and s[7] < plain[7]


def test_a_customer_linked_only_to_customers_is_not_lifted_a_fleet_member_is() -> None:
    src, dst, w = _graph()
    label = np.zeros(10, dtype=np.int64)
    clusters = cluster_scores(OWN, {0: np.arange(10)}, {0: 0.6})
    assert clusters[0].score >= 0.5
    plain = _plain_strength(src, dst, w, 10)
    before = lift(OWN, label, plain, clusters)
    after = lift_from_guilty(OWN, label, plain, clusters, (src, dst, w))
    assert before[6] >= 0.5  # the old lift accused the customer through its fellow customers
    assert after[6] < 0.5
    assert (after[4:6] >= 0.5).all()  # the fleet's innocent-looking members are still caught
    assert (after >= OWN).all() and (after <= before + 1e-12).all()
