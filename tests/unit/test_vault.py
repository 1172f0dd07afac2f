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


KEY_A = bytes(range(32))


def test_keys_are_checked_when_the_vault_is_made():
    with pytest.raises(ValueError, match="^the vault needs at least one key$"):
        TokenVault([])
    with pytest.raises(ValueError, match="'a' is not 256 bits"):
        TokenVault([("a", KEY_A[:31])])
    with pytest.raises(ValueError, match="'k-1' must be alphanumeric"):
        TokenVault([("k-1", KEY_A)])
    assert TokenVault([("b", KEY_A), ("a", bytes(32))]).primary_kid == "b"


def test_the_config_format_is_kid_colon_base64_comma_separated():
    import base64
    unpadded = base64.urlsafe_b64encode(KEY_A).decode().rstrip("=")
    v = TokenVault.from_config(f" new:{unpadded} ,, old:{base64.urlsafe_b64encode(bytes(32)).decode()},")
    assert v.primary_kid == "new"
    b = Binding("connections", "access_token", "con_1")
    old = TokenVault([("old", bytes(32))]).encrypt("t", b)
    assert v.decrypt(old, b) == "t"
    with pytest.raises(ValueError, match="^HUB_ENCRYPTION_KEYS entries are kid:base64key$"):  # names the setting
        TokenVault.from_config("justakey")
    with pytest.raises(ValueError, match="^HUB_ENCRYPTION_KEYS entries are kid:base64key$"):
        TokenVault.from_config("a:")


def test_generated_key_specs_are_32_bytes_under_the_given_or_a_random_kid():
    import base64
    import re
    spec = TokenVault.generate_key_spec("k1")
    kid, _, b64 = spec.partition(":")
    assert kid == "k1" and "=" not in b64
    assert len(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))) == 32
    assert re.fullmatch(r"k[0-9a-f]{8}", TokenVault.generate_key_spec().partition(":")[0])
    assert TokenVault.generate_key_spec("k1") != spec


def test_the_ciphertext_is_nonce_then_aes_gcm_with_the_binding_as_associated_data():
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    v = TokenVault([("a", KEY_A)])
    ct = v.encrypt("ya29.token", Binding("connections", "access_token", "con_1"))
    version, kid, body = ct.split(".")
    assert (version, kid) == ("v1", "a") and "=" not in body
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert len(raw) == 12 + len("ya29.token") + 16
    assert AESGCM(KEY_A).decrypt(raw[:12], raw[12:], b"connections/access_token/con_1") == b"ya29.token"
    assert v.encrypt("ya29.token", Binding("connections", "access_token", "con_1")) != ct  # a fresh nonce each time
    assert v.key_id_of(ct) == "a"


@pytest.mark.parametrize("ciphertext, message", [
    ("v2.a.AAAA", "unknown ciphertext version"), ("v1.zz.AAAA", "no key with id 'zz' is configured"),
    ("v1a", "not a vault ciphertext"), ("v1.a", "not a vault ciphertext"),
    # Everything after the second dot is the body (base64url has no dots): it does not open.
    ("v1.a.AAAA.BBBB", "ciphertext does not belong here or was altered"),
])
def test_unreadable_ciphertexts_say_why(ciphertext, message):
    import re
    with pytest.raises(VaultError, match=f"^{re.escape(message)}$"):
        TokenVault([("a", KEY_A)]).decrypt(ciphertext, Binding("t", "c", "r"))


def test_a_ciphertext_from_elsewhere_does_not_belong_here():
    v = TokenVault([("a", KEY_A)])
    ct = v.encrypt("x", Binding("t", "c", "r1"))
    with pytest.raises(VaultError, match="^ciphertext does not belong here or was altered$"):
        v.decrypt(ct, Binding("t", "c", "r2"))
    assert v.decrypt(ct, Binding("t", "c", "r1")) == "x"


@pytest.mark.parametrize("damage", [lambda ct: ct[:12], lambda ct: ct[:-3], lambda ct: ct + "A",
                                    lambda ct: ct[:-6] + ("B" if ct[-6] != "B" else "C") + ct[-5:]])
def test_a_damaged_ciphertext_is_unreadable_not_a_crash(damage):
    """A row cut short or garbled reads as VaultError, which the token manager reports as
    credentials_unreadable (a ValueError used to escape as a 500)."""
    v = TokenVault([("a", KEY_A)])
    ct = v.encrypt("ya29.token", Binding("t", "c", "r"))
    with pytest.raises(VaultError, match="^ciphertext does not belong here or was altered$"):
        v.decrypt(damage(ct), Binding("t", "c", "r"))


def test_reencrypt_moves_only_values_not_under_the_primary_key():
    b = Binding("connections", "refresh_token", "con_1")
    old = TokenVault([("old", bytes(32))])
    both = TokenVault([("new", KEY_A), ("old", bytes(32))])
    under_old = old.encrypt("1//refresh", b)
    moved = both.reencrypt(under_old, b)
    assert moved is not None and moved.startswith("v1.new.") and both.decrypt(moved, b) == "1//refresh"
    assert both.reencrypt(moved, b) is None


def test_every_body_round_trips_whatever_its_last_character():
    """Only the base64 padding is dropped from the body: tokens are encrypted until one ends in
    "X" (ciphertexts are random, so the count is not fixed), every one of them round-trips."""
    v = TokenVault([("a", KEY_A)])
    b = Binding("connections", "access_token", "con_1")
    endings = set()
    for n in range(20_000):
        ct = v.encrypt(f"token-{n}", b)
        endings.add(ct[-1])
        assert v.decrypt(ct, b) == f"token-{n}"
        if n >= 600 and "X" in endings:
            break
    assert "X" in endings and "=" not in endings
    assert v.key_id_of("v1.a.AAAA.BBBB") == "a"
