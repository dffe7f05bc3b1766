"""SM2 signatures: the GM/T 0003.5 example, both back-ends agree, round trips and refusals,
and interoperability with gmssl (independent pure Python) and the openssl command (DER)."""
import os
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from labchain.crypto import sm, sm2, sm2_openssl
from labchain.errors import EncodingError, InvalidKeyError

# GM/T 0003.5 / GB/T 32918.5 Annex A (also in OpenSSL's test/sm2_internal_test.c)
D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
MSG = b"message digest"
SIG = R.to_bytes(32, "big") + S.to_bytes(32, "big")
SUITE = sm.SUITE
PUB = sm2.compress(sm2.public_point(D))


@pytest.fixture(params=["openssl", "python"])
def backend(request):
    before = sm.backend()
    sm.set_backend(request.param)
    yield request.param
    sm.set_backend(before)


def test_annex_a_signature_with_the_given_k():
    assert sm2.sign(D, MSG, k=K) == SIG
    assert sm2.sign(D, MSG, k=K, mult=sm2_openssl.base_mult) == SIG


def test_annex_a_signature_verifies_on_both_backends():
    assert sm2.verify(PUB, MSG, SIG) and sm2_openssl.verify(PUB, MSG, SIG)
    assert not sm2.verify(PUB, b"message digesT", SIG)
    assert not sm2_openssl.verify(PUB, b"message digesT", SIG)


def test_z_a_depends_on_the_signer_id():
    assert not sm2.verify(PUB, MSG, SIG, user_id=b"ALICE123@YAHOO.COM")
    assert not sm2_openssl.verify(PUB, MSG, SIG, user_id=b"ALICE123@YAHOO.COM")
    other = sm2.sign(D, MSG, user_id=b"ALICE123@YAHOO.COM")
    assert sm2_openssl.verify(PUB, MSG, other, user_id=b"ALICE123@YAHOO.COM")


def test_signing_is_deterministic_and_the_same_on_both_backends(backend):
    secret = SUITE.secret_from_seed("sm2 test", 3)
    first = SUITE.sign(secret, b"block")
    assert SUITE.sign(secret, b"block") == first
    other = "python" if backend == "openssl" else "openssl"
    sm.set_backend(other)
    assert SUITE.sign(secret, b"block") == first
    assert SUITE.verify(SUITE.public_key(secret), b"block", first)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, sm2.N - 2), st.binary(max_size=64), st.binary(min_size=1, max_size=8))
def test_round_trip_and_tampering_property(secret, message, extra):
    public = SUITE.public_key(secret)
    signature = SUITE.sign(secret, message)
    assert SUITE.verify(public, message, signature)
    assert not SUITE.verify(public, message + extra, signature)
    assert not SUITE.verify(SUITE.public_key(secret % (sm2.N - 2) + 1), message, signature)
    assert sm2.verify(public, message, signature)          # the pure-Python check agrees


def test_negated_s_is_not_another_valid_signature(backend):
    """ECDSA's (r, n-s) malleability does not exist in SM2 (t = r + s enters the point sum),
    which is why the suite has no low-S rule; show it rather than assume it."""
    flipped = SIG[:32] + (sm2.N - S).to_bytes(32, "big")
    assert not SUITE.verify(PUB, MSG, flipped)


@pytest.mark.parametrize("r, s, word", [(0, S, "r is zero"), (sm2.N, S, "r is not below n"),
                                         (R, 0, "s is zero"), (R, sm2.N + 5, "s is not below n")],
                         ids=["r=0", "r=n", "s=0", "s>n"])
def test_out_of_range_r_or_s_is_refused_with_a_reason(backend, r, s, word):
    bad = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    with pytest.raises(sm2.SignatureError, match=word):
        sm2.split_signature(bad)
    assert SUITE.verify(PUB, MSG, bad) is False
    with pytest.raises(sm2.SignatureError, match=word):
        sm2_openssl.verify(PUB, MSG, bad)


def test_wrong_signature_size_is_refused():
    with pytest.raises(sm2.SignatureError, match="64 bytes"):
        sm2.verify(PUB, MSG, SIG[:-1])


def test_point_not_on_the_curve_is_refused(backend):
    x = 1
    while True:  # the first x with no point on the curve
        c = (x ** 3 + sm2.A * x + sm2.B) % sm2.P
        if pow(c, (sm2.P + 1) // 4, sm2.P) ** 2 % sm2.P != c:
            break
        x += 1
    with pytest.raises(InvalidKeyError, match="not a point on the SM2 curve"):
        SUITE.verify(b"\x02" + x.to_bytes(32, "big"), MSG, SIG)
    off = b"\x04" + sm2.G[0].to_bytes(32, "big") + (sm2.G[1] + 1).to_bytes(32, "big")
    with pytest.raises(InvalidKeyError, match="not a point on the SM2 curve"):
        sm2.decode_point(off)
    assert SUITE.verify_many([(b"\x02" + x.to_bytes(32, "big"), MSG, SIG), (PUB, MSG, SIG)]) == [False, True]


def test_secret_n_minus_1_is_not_a_key():
    with pytest.raises(InvalidKeyError, match="between 1 and n-2"):
        SUITE.sign(sm2.N - 1, MSG)


def test_parallel_verify_many_keeps_order():
    checks = [(PUB, MSG, SIG), (PUB, b"x", SIG)] * 40
    assert SUITE.verify_many(checks, workers=2) == [True, False] * 40


def test_der_and_pem_round_trips_and_strictness():
    der = sm2.signature_to_der(SIG)
    assert sm2.signature_from_der(der) == SIG
    with pytest.raises(sm2.SignatureError, match="unexpected bytes"):
        sm2.signature_from_der(der + b"\x00")
    assert der[2:5] == b"\x02\x21\x00"        # r has its top bit set: one sign byte
    padded = bytes([0x30, der[1] + 1]) + b"\x02\x22\x00\x00" + der[5:]   # a superfluous zero
    with pytest.raises(sm2.SignatureError, match="superfluous leading zero"):
        sm2.signature_from_der(padded)
    assert sm2.private_key_from_pem(sm2.private_key_to_pem(D)) == D
    assert sm2.public_key_from_pem(sm2.public_key_to_pem(PUB)) == PUB
    with pytest.raises(EncodingError, match="no PEM block"):
        sm2.public_key_from_pem("hello")


def test_cross_check_with_gmssl():
    from gmssl import sm2 as gmssl_sm2   # a [dev] dependency: missing fails, not skips
    point = sm2.public_point(D)
    crypt = gmssl_sm2.CryptSM2(private_key=f"{D:064x}", public_key=sm2.uncompressed(point)[1:].hex())
    assert crypt.verify_with_sm3(SUITE.sign(D, MSG).hex(), MSG)               # we sign, gmssl verifies
    theirs = bytes.fromhex(crypt.sign_with_sm3(MSG, f"{K:064x}"))           # gmssl signs
    assert theirs == SIG and SUITE.verify(PUB, MSG, theirs)


OPENSSL = shutil.which("openssl")
OPT = ["-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"]


def test_openssl_command_line_both_ways(tmp_path):
    if OPENSSL is None:  # Debian's openssl package; CI must not skip the interop check
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)("the openssl command is not installed")
    key, pub, msg, sig = (tmp_path / n for n in ("key.pem", "pub.pem", "msg", "sig.der"))
    key.write_text(sm2.private_key_to_pem(D))
    pub.write_text(sm2.public_key_to_pem(PUB))
    msg.write_bytes(MSG)
    # openssl reads our keys the same way
    out = subprocess.run([OPENSSL, "pkey", "-in", key, "-pubout"], capture_output=True, text=True, check=True)
    assert sm2.public_key_from_pem(out.stdout) == PUB
    # we sign, openssl verifies
    sig.write_bytes(sm2.signature_to_der(SUITE.sign(D, MSG)))
    ok = subprocess.run([OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in", msg,
                         "-sigfile", sig, *OPT], capture_output=True, text=True)
    assert ok.returncode == 0 and "Verified Successfully" in ok.stdout
    sig.write_bytes(sm2.signature_to_der(sm2.sign(D, b"other")))
    bad = subprocess.run([OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in", msg,
                          "-sigfile", sig, *OPT], capture_output=True, text=True)
    assert bad.returncode != 0
    # openssl signs (random k), we verify, on both back-ends
    subprocess.run([OPENSSL, "pkeyutl", "-sign", "-inkey", key, "-in", msg, "-out", sig, *OPT], check=True)
    theirs = sm2.signature_from_der(sig.read_bytes())
    assert sm2.verify(PUB, MSG, theirs) and sm2_openssl.verify(PUB, MSG, theirs)
    assert not sm2.verify(PUB, b"other", theirs)
    # a key openssl generated loads here
    subprocess.run([OPENSSL, "genpkey", "-algorithm", "SM2", "-out", key], check=True)
    secret = sm2.private_key_from_pem(key.read_text())
    out = subprocess.run([OPENSSL, "pkey", "-in", key, "-pubout"], capture_output=True, text=True, check=True)
    assert sm2.public_key_from_pem(out.stdout) == SUITE.public_key(secret)
