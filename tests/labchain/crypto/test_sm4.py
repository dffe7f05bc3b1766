"""SM4: GB/T 32907 Annex A on both implementations, the readable cipher equals OpenSSL's,
and SM4-GCM refuses altered data."""
import pytest
from hypothesis import given, settings, strategies as st

from labchain.crypto import sm4

KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_annex_a_example_1_both_ways():
    for encrypt in (sm4.encrypt_block, sm4.ecb_encrypt_block):
        assert encrypt(KEY, KEY).hex() == "681edf34d206965e86b3e94f536e4246"
    assert sm4.decrypt_block(KEY, bytes.fromhex("681edf34d206965e86b3e94f536e4246")) == KEY


def test_annex_a_example_2_one_million_encryptions_fast_path():
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    encryptor = Cipher(algorithms.SM4(KEY), modes.ECB()).encryptor()   # ~1 s here
    block = KEY
    for _ in range(1_000_000):
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_readable_equals_openssl_and_decrypts(key, block):
    ciphertext = sm4.encrypt_block(key, block)
    assert ciphertext == sm4.ecb_encrypt_block(key, block)
    assert sm4.decrypt_block(key, ciphertext) == block


def test_gcm_round_trip_and_tampering():
    nonce = bytes(12)
    sealed = sm4.gcm_encrypt(KEY, nonce, b"secret", b"header")
    assert sm4.gcm_decrypt(KEY, nonce, sealed, b"header") == b"secret"
    flipped = bytes([sealed[0] ^ 1]) + sealed[1:]
    for args in ((KEY, nonce, flipped, b"header"), (KEY, nonce, sealed, b"headeR"),
                 (bytes(16), nonce, sealed, b"header")):
        with pytest.raises(sm4.SM4Error, match="authentication failed"):
            sm4.gcm_decrypt(*args)


def test_wrong_sizes_are_named():
    with pytest.raises(sm4.SM4Error, match="key is 16 bytes, got 3"):
        sm4.encrypt_block(b"abc", KEY)
    with pytest.raises(sm4.SM4Error, match="block is 16 bytes"):
        sm4.encrypt_block(KEY, b"short")
