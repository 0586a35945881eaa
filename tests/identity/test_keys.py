from __future__ import annotations

import pytest

from distillguard.errors import AuthenticationError
from distillguard.identity.keys import generate_key, parse_key


def test_generate_and_parse_round_trip() -> None:
    raw, parsed = generate_key()
    again = parse_key(raw)
    assert again == parsed and parsed.secret not in repr(parsed)
    assert generate_key()[0] != raw


@pytest.mark.parametrize("bad", ["", "dg_", "Bearer x", "dg_short_secret", "dg_" + "a" * 60])
def test_malformed_keys_refused_without_echo(bad: str) -> None:
    with pytest.raises(AuthenticationError, match="malformed") as err:
        parse_key(bad)
    if len(bad) > 8:
        assert bad not in str(err.value)
