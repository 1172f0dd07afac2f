import pytest

from oauth.vault import Binding, TokenVault, VaultError


def vault(*kids: str) -> TokenVault:
    return TokenVault.from_config(",".join(TokenVault.generate_key_spec(k) for k in kids))


def test_round_trip_and_no_plaintext():
    v = vault("a")
    b = Binding("connections", "access_token", "con_1")
    ct = v.encrypt("ya29.secret-token", b)
    assert "ya29" not in ct and ct.startswith("v1.a.")
    assert v.decrypt(ct, b) == "ya29.secret-token"


@pytest.mark.parametrize("other", [Binding("connections", "access_token", "con_2"),
                                   Binding("connections", "refresh_token", "con_1"),
                                   Binding("users", "access_token", "con_1")])
def test_ciphertext_copied_elsewhere_fails(other):
    v = vault("a")
    ct = v.encrypt("tok", Binding("connections", "access_token", "con_1"))
    with pytest.raises(VaultError):
        v.decrypt(ct, other)


def test_tampered_ciphertext_fails():
    v = vault("a")
    b = Binding("t", "c", "1")
    ct = v.encrypt("tok", b)
    flipped = ct[:-2] + ("A" if ct[-2] != "A" else "B") + ct[-1]
    with pytest.raises(VaultError):
        v.decrypt(flipped, b)


def test_rotation_keeps_old_keys_readable_and_moves_to_primary():
    old_spec, new_spec = TokenVault.generate_key_spec("old"), TokenVault.generate_key_spec("new")
    b = Binding("t", "c", "1")
    ct = TokenVault.from_config(old_spec).encrypt("tok", b)
    both = TokenVault.from_config(f"{new_spec},{old_spec}")
    assert both.decrypt(ct, b) == "tok"
    moved = both.reencrypt(ct, b)
    assert moved is not None and both.key_id_of(moved) == "new"
    assert both.decrypt(moved, b) == "tok"
    assert both.reencrypt(moved, b) is None


def test_unknown_key_id_is_reported():
    a, b = vault("a"), vault("b")
    bind = Binding("t", "c", "1")
    with pytest.raises(VaultError, match="no key"):
        b.decrypt(a.encrypt("x", bind), bind)


def test_bad_key_length_rejected():
    with pytest.raises(ValueError):
        TokenVault([("k", b"short")])
