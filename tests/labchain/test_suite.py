"""The crypto Suite interface and its registry (labchain/crypto/suite.py)."""
import pytest

from labchain.crypto import Address, PrivateKey, Suite, get_suite, hash256, register_suite, sha256
from labchain.crypto import suite_for, suite_for_version, suite_names
from labchain.core.errors import InvalidKeyError, UnknownSuiteError


def test_default_suite_is_p256_sha256_and_matches_the_module_api():
    suite = get_suite()
    assert suite is get_suite("p256-sha256")
    assert (suite.hash_algorithm, suite.signature_algorithm) == ("SHA256", "ECDSA_P256")
    assert suite.hash(b"abc") == sha256(b"abc")
    assert suite.hash256(b"abc") == hash256(b"abc")
    key = PrivateKey.from_seed("suite test", 3)
    assert suite.secret_from_seed("suite test", 3) == key.secret
    assert suite.public_key(key.secret) == key.public_key.data
    assert suite.address(key.public_key.data) == key.address


def test_suite_signs_and_verifies_fixed_size_signatures():
    suite = get_suite("p256-sha256")
    secret = suite.secret_from_seed("suite test")
    sig = suite.sign(secret, b"pay 5")
    assert len(sig) == suite.signature_size == 64
    public_key = suite.public_key(secret)
    assert suite.verify(public_key, b"pay 5", sig)
    assert not suite.verify(public_key, b"pay 6", sig)
    assert suite.verify_many([(public_key, b"pay 5", sig), (public_key, b"pay 6", sig),
                              (b"\x02" + b"\xff" * 32, b"pay 5", sig)]) == [True, False, False]


def test_unknown_suite_names_say_what_is_available():
    with pytest.raises(UnknownSuiteError, match=r"unknown crypto suite 'ed25519'; choose one of .*p256-sha256"):
        get_suite("ed25519")
    with pytest.raises(UnknownSuiteError, match="no crypto suite combines hash 'SHA256' with signature 'RSA'"):
        suite_for("SHA256", "RSA")
    assert suite_for("SHA256", "ECDSA_P256") is get_suite("p256-sha256")
    assert "p256-sha256" in suite_names()
    assert suite_for_version(0x30) is get_suite("p256-sha256")


def test_a_new_suite_cannot_take_an_address_version_already_in_use():
    base = type(get_suite("p256-sha256"))
    clone = type("Clone", (base,), {"name": "clone-suite"})()
    with pytest.raises(ValueError, match="already taken by suite 'p256-sha256'"):
        register_suite(clone)
    with pytest.raises(TypeError):
        register_suite("p256-sha256")


def test_suite_checks_secrets_and_seed_phrases():
    suite = get_suite()
    with pytest.raises(InvalidKeyError):
        suite.check_secret(0)
    with pytest.raises(InvalidKeyError, match="seed phrase"):
        suite.secret_from_seed("")
    assert isinstance(suite, Suite) and isinstance(suite.address(suite.public_key(5)), Address)


def test_an_address_of_another_registered_suite_parses_and_says_which_suite_it_belongs_to():
    from labchain.crypto import b58encode
    from labchain.crypto import suite as registry
    from labchain.errors import AddressError

    base = type(get_suite("p256-sha256"))
    other = type("OtherSuite", (base,), {"name": "other-test-suite", "address_version": 0x7A})()
    register_suite(other)
    try:
        payload = bytes([0x7A]) + b"\x07" * 20
        text = b58encode(payload + hash256(payload)[:4])
        address = Address.from_string(text)  # every registered suite's addresses parse
        assert address.version == 0x7A and address.check_suite(other) is address
        with pytest.raises(AddressError, match=r"is an address of the other-test-suite crypto suite "
                                               r"\(version byte 0x7a\), but this chain uses p256-sha256"):
            address.check_suite(get_suite("p256-sha256"))  # what a chain, wallet or RPC asks
    finally:
        registry._registry.pop("other-test-suite")
