from __future__ import annotations

import pytest

from distillguard.errors import IdentityError
from distillguard.identity.passwords import (
    ScryptCost,
    check_password_strength,
    hash_secret,
    new_recovery_codes,
    normalise_recovery_code,
    verify_secret,
)

CHEAP = ScryptCost(log2_n=10)


def test_hash_verify_and_salted() -> None:
    h1, h2 = hash_secret("open sesame 123", CHEAP), hash_secret("open sesame 123", CHEAP)
    assert h1 != h2 and "open sesame" not in h1
    assert verify_secret("open sesame 123", h1) and not verify_secret("open sesame 124", h1)
    assert not verify_secret("x", "garbage") and not verify_secret("x", "md5$1$2$3$4$5")


def test_strength_messages_do_not_echo_password() -> None:
    with pytest.raises(IdentityError) as err:
        check_password_strength("hunter2", account_id="acct_1", email=None)
    assert "hunter2" not in str(err.value)
    check_password_strength("a long and unusual passphrase", account_id="acct_1", email="j@x.io")


def test_recovery_codes_shape_and_normalisation() -> None:
    codes = new_recovery_codes(10)
    assert len(set(codes)) == 10 and all(len(c) == 14 and c.count("-") == 2 for c in codes)
    assert normalise_recovery_code(codes[0].upper().replace("-", " ")) == codes[0]
