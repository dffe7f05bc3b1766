"""Hashes, deterministic keys, low-S RFC 6979 signatures and Base58Check addresses."""
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labchain.crypto import p256 as crypto
from labchain.crypto import (
    ADDRESS_VERSION,
    P256_ORDER,
    Address,
    PrivateKey,
    PublicKey,
    b58decode,
    b58encode,
    hash160,
    hash256,
    sha256,
)
from labchain.core.errors import AddressError, InvalidKeyError

BACKENDS = sorted(crypto.VERIFY_BACKENDS)


# --- hashes: published test vectors -------------------------------------------------------

def test_sha256_of_abc_matches_fips_180_vector():
    assert sha256(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_hash256_of_empty_string_is_double_sha256():
    assert hash256(b"").hex() == "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
    assert hash256(b"abc") == sha256(sha256(b"abc"))


def test_hash160_is_ripemd160_of_sha256():
    # RIPEMD-160(SHA-256("")), the well-known Bitcoin hash160 of the empty string
    assert hash160(b"").hex() == "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"


# --- signatures ----------------------------------------------------------------------------

RFC6979_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721


def test_signature_matches_rfc6979_p256_sha256_vector_in_low_s_form():
    # RFC 6979 A.2.5, message "sample" with SHA-256; its s is "high", so we publish n - s
    r = 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
    s = 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8
    sig = PrivateKey(RFC6979_KEY).sign(b"sample")
    assert sig == r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big")


def test_signing_is_deterministic_and_message_dependent():
    key = PrivateKey.from_seed("determinism", 0)
    assert key.sign(b"message") == key.sign(b"message")
    assert key.sign(b"message") != key.sign(b"message!")


@settings(max_examples=25, deadline=None)
@given(st.integers(1, P256_ORDER - 1), st.binary(max_size=100))
def test_every_signature_is_low_s_and_verifies(secret, message):
    key = PrivateKey(secret)
    sig = key.sign(message)
    assert len(sig) == 64
    assert 1 <= int.from_bytes(sig[32:], "big") <= P256_ORDER // 2
    for name in BACKENDS:
        assert crypto.VERIFY_BACKENDS[name](key.public_key.data, message, sig)


@pytest.mark.parametrize("backend", BACKENDS)
def test_high_s_twin_of_a_valid_signature_is_rejected(backend):
    key = PrivateKey.from_seed("malleability", 1)
    sig = key.sign(b"pay bob")
    s = int.from_bytes(sig[32:], "big")
    high = sig[:32] + (P256_ORDER - s).to_bytes(32, "big")  # mathematically valid ECDSA
    verify = crypto.VERIFY_BACKENDS[backend]
    assert verify(key.public_key.data, b"pay bob", sig)
    assert not verify(key.public_key.data, b"pay bob", high)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tampered_message_signature_or_key_fails(backend):
    key, other = PrivateKey.from_seed("tamper", 0), PrivateKey.from_seed("tamper", 1)
    sig = key.sign(b"pay bob 5")
    verify = crypto.VERIFY_BACKENDS[backend]
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    assert not verify(key.public_key.data, b"pay bob 6", sig)
    assert not verify(key.public_key.data, b"pay bob 5", flipped)
    assert not verify(other.public_key.data, b"pay bob 5", sig)
    assert not verify(key.public_key.data, b"pay bob 5", sig[:63])
    assert not verify(key.public_key.data, b"pay bob 5", bytes(64))


def test_set_verify_backend_switches_and_rejects_unknown_names():
    key = PrivateKey.from_seed("backend", 0)
    sig = key.sign(b"m")
    try:
        for name in BACKENDS:
            crypto.set_verify_backend(name)
            assert key.public_key.verify(b"m", sig)
            assert not key.public_key.verify(b"n", sig)
        with pytest.raises(ValueError, match="unknown verify backend 'gpu'"):
            crypto.set_verify_backend("gpu")
    finally:
        crypto.set_verify_backend("openssl")


# --- keys ----------------------------------------------------------------------------------

def test_seed_derivation_is_reproducible_and_index_distinct():
    keys = [PrivateKey.from_seed("alice's lab seed", i) for i in range(20)]
    again = [PrivateKey.from_seed("alice's lab seed", i) for i in range(20)]
    assert keys == again
    assert len({k.secret for k in keys}) == 20
    assert PrivateKey.from_seed("bob's lab seed", 0) != keys[0]


@pytest.mark.parametrize("phrase,index,message", [
    ("", 0, "non-empty string"), ("x", -1, "non-negative integer"), ("x", 1.5, "non-negative integer"),
])
def test_bad_seed_arguments_are_rejected(phrase, index, message):
    with pytest.raises(InvalidKeyError, match=message):
        PrivateKey.from_seed(phrase, index)


@pytest.mark.parametrize("secret", [0, P256_ORDER, -1, True])
def test_out_of_range_private_keys_are_rejected(secret):
    with pytest.raises(InvalidKeyError, match="between 1 and n-1"):
        PrivateKey(secret)


def test_private_key_hex_round_trip_and_repr_hides_secret():
    key = PrivateKey.from_seed("hex", 3)
    assert PrivateKey.from_hex(key.to_hex()) == key
    assert key.to_hex() not in repr(key) and str(key.address) in repr(key)
    with pytest.raises(InvalidKeyError, match="32 bytes"):
        PrivateKey.from_hex("abcd")
    with pytest.raises(InvalidKeyError, match="64 hex digits"):
        PrivateKey.from_hex("xyz")


@pytest.mark.parametrize("data,message", [
    (b"\x02" * 32, "33 bytes in compressed SEC1"),
    (b"\x04" + b"\x01" * 32, "33 bytes in compressed SEC1"),
    (b"\x02" + b"\xff" * 32, "not a point on the P-256 curve"),
])
def test_malformed_public_keys_are_rejected(data, message):
    with pytest.raises(InvalidKeyError, match=message):
        PublicKey(data)


def test_public_key_matches_rfc6979_p256_vector():
    # RFC 6979 A.2.5: Ux = 60FED4BA..., Uy = 7903FE10...99 (odd, so the prefix is 03)
    ux = "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
    assert PrivateKey(RFC6979_KEY).public_key.data.hex() == "03" + ux.lower()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, P256_ORDER - 1))
@example(1)
@example(P256_ORDER - 1)
def test_python_public_key_derivation_agrees_with_openssl(secret):
    from cryptography.hazmat.primitives.asymmetric import ec

    point = ec.derive_private_key(secret, ec.SECP256R1()).public_key().public_numbers()
    expected = bytes([2 | point.y & 1]) + point.x.to_bytes(32, "big")
    assert crypto._public_key_of.__wrapped__(secret).data == expected


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([2, 3]), st.binary(min_size=32, max_size=32))
@example(2, bytes(32))                                  # x = 0 is on the curve
@example(2, crypto.P256_PRIME.to_bytes(32, "big"))      # x = p: 0 again modulo p, but not below p
def test_python_curve_point_check_agrees_with_openssl(prefix, x):
    from cryptography.hazmat.primitives.asymmetric import ec

    data = bytes([prefix]) + x
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        with pytest.raises(InvalidKeyError, match="not a point on the P-256 curve"):
            PublicKey(data)
    else:
        assert PublicKey(data).data == data


# --- Base58Check addresses -----------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=40))
def test_base58_round_trip_keeps_leading_zero_bytes(data):
    assert b58decode(b58encode(data)) == data


def test_address_text_round_trip():
    addr = PrivateKey.from_seed("addr", 0).address
    assert addr.version == ADDRESS_VERSION and len(addr.pubkey_hash) == 20
    assert Address.from_string(str(addr)) == addr
    assert Address.from_bytes(addr.to_bytes()) == addr


def _valid() -> str:
    return str(PrivateKey.from_seed("typos", 0).address)


@pytest.mark.parametrize("bad_char", ["0", "O", "I", "l"])
def test_look_alike_characters_get_a_hint(bad_char):
    text = _valid()
    with pytest.raises(AddressError, match=f"invalid character '{bad_char}' at position 5.*look alike"):
        Address.from_string(text[:5] + bad_char + text[6:])


def test_other_invalid_characters_are_named_without_the_hint():
    with pytest.raises(AddressError, match=r"invalid character '\+'") as info:
        Address.from_string(_valid()[:-1] + "+")
    assert "look alike" not in str(info.value)


@pytest.mark.parametrize("edit", [lambda t: t[:-1], lambda t: t + "z"], ids=["missing", "extra"])
def test_wrong_length_says_characters_are_missing_or_extra(edit):
    with pytest.raises(AddressError, match="expected 25.*missing or extra"):
        Address.from_string(edit(_valid()))


def test_single_typo_is_caught_by_the_checksum():
    text = _valid()
    swapped = text[:10] + ("2" if text[10] != "2" else "3") + text[11:]
    with pytest.raises(AddressError, match="bad checksum: it was probably mistyped") as info:
        Address.from_string(swapped)
    assert info.value.obj == swapped


def test_address_of_another_network_is_rejected_by_version():
    bitcoin_style = str(Address(0x00, bytes(range(20))))
    with pytest.raises(AddressError, match="version byte 0x00.*another network"):
        Address.from_string(bitcoin_style)


@pytest.mark.parametrize("value", ["", None, 42])
def test_empty_or_non_string_address_is_rejected(value):
    with pytest.raises(AddressError, match="non-empty string"):
        Address.from_string(value)


def test_address_constructor_checks_its_parts():
    with pytest.raises(AddressError, match="20-byte"):
        Address(ADDRESS_VERSION, bytes(19))
    with pytest.raises(AddressError, match="must be a byte"):
        Address(256, bytes(20))
    with pytest.raises(AddressError, match="21 bytes"):
        Address.from_bytes(bytes(20))
