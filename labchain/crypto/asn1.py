"""Just enough DER (ASN.1 Distinguished Encoding Rules) and PEM for SM2 keys and signatures.

Other tools (``openssl`` 3, GmSSL, Java, browsers) exchange elliptic-curve keys and
signatures as DER, so students who check LabChain's SM2 against ``openssl pkeyutl`` need to
read and write it. LabChain itself carries only fixed-size forms on the wire (33-byte
compressed keys, 64-byte ``r || s`` signatures); DER and PEM are import/export formats.

Terminology
-----------
TLV
    Every DER value is *tag* (one byte here: 0x02 INTEGER, 0x03 BIT STRING, 0x04 OCTET
    STRING, 0x06 OBJECT IDENTIFIER, 0x30 SEQUENCE, 0xA0/0xA1 context tags [0]/[1]), *length*
    (short form below 128, else 0x81/0x82 and the length in one or two bytes) and *value*.
INTEGER
    Big-endian two's complement, minimal: a leading 0x00 only when the top bit would
    otherwise make a positive number negative. ``r`` and ``s`` of a signature are INTEGERs.
OID
    Object identifier, e.g. ``1.2.156.10197.1.301`` (the SM2 curve, GM/T 0006).
PEM
    Base64 of the DER between ``-----BEGIN <LABEL>-----`` and ``-----END <LABEL>-----``.

The parser is strict: it refuses non-minimal lengths and integers, trailing bytes, negative
numbers and anything it does not expect, each with a sentence saying what is wrong, so
that a signature has exactly one DER form (a lax parser is how signature malleability
crept into Bitcoin before BIP 66). No general ASN.1: only the shapes listed below.
"""
from __future__ import annotations

import base64
import binascii
import re

from labchain.errors import EncodingError

INTEGER, BIT_STRING, OCTET_STRING, OID, SEQUENCE = 0x02, 0x03, 0x04, 0x06, 0x30
CONTEXT_0, CONTEXT_1 = 0xA0, 0xA1

#: id-ecPublicKey (RFC 5480) and the SM2 curve sm2p256v1 (GM/T 0006-2012)
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SM2_CURVE = "1.2.156.10197.1.301"


# --- encoding -----------------------------------------------------------------------------

def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def encode_integer(value: int) -> bytes:
    if value < 0:
        raise EncodingError(f"DER export handles non-negative integers only, got {value}", value)
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # one spare bit for the sign
    return tlv(INTEGER, body)


def encode_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(OID, bytes(body))


def sequence(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


# --- decoding -----------------------------------------------------------------------------

def read_tlv(data: bytes, pos: int, tag: int, what: str) -> tuple[bytes, int]:
    """The value of the TLV at ``pos`` (which must carry ``tag``) and the position after it."""
    if pos >= len(data):
        raise EncodingError(f"{what}: the DER data ends where a value was expected", data)
    if data[pos] != tag:
        raise EncodingError(f"{what}: expected DER tag 0x{tag:02x} but found 0x{data[pos]:02x}", data)
    if pos + 1 >= len(data):
        raise EncodingError(f"{what}: the DER data ends inside a length", data)
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 2 or pos + count > len(data):
            raise EncodingError(f"{what}: a DER length is malformed or too large", data)
        length = int.from_bytes(data[pos:pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise EncodingError(f"{what}: a DER length is not in its shortest form", data)
        pos += count
    if pos + length > len(data):
        raise EncodingError(f"{what}: a DER value claims {length} bytes but fewer follow", data)
    return data[pos:pos + length], pos + length


def read_integer(data: bytes, pos: int, what: str) -> tuple[int, int]:
    body, pos = read_tlv(data, pos, INTEGER, what)
    if not body:
        raise EncodingError(f"{what}: a DER INTEGER is empty", data)
    if body[0] & 0x80:
        raise EncodingError(f"{what}: a DER INTEGER is negative", data)
    if len(body) > 1 and body[0] == 0 and not body[1] & 0x80:
        raise EncodingError(f"{what}: a DER INTEGER has a superfluous leading zero byte", data)
    return int.from_bytes(body, "big"), pos


def decode_oid(body: bytes) -> str:
    if not body or body[-1] & 0x80:
        raise EncodingError("an OBJECT IDENTIFIER is malformed", body)
    arcs, arc = [], 0
    for byte in body:
        arc = (arc << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(arc)
            arc = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def expect_end(data: bytes, pos: int, what: str) -> None:
    if pos != len(data):
        raise EncodingError(f"{what}: {len(data) - pos} unexpected bytes after the DER value", data)


# --- the shapes SM2 needs -----------------------------------------------------------------

def encode_signature(r: int, s: int) -> bytes:
    """ECDSA-Sig-Value / SM2Signature ::= SEQUENCE { r INTEGER, s INTEGER }."""
    return sequence(encode_integer(r), encode_integer(s))


def decode_signature(der: bytes) -> tuple[int, int]:
    what = "DER signature"
    body, end = read_tlv(der, 0, SEQUENCE, what)
    expect_end(der, end, what)
    r, pos = read_integer(body, 0, what)
    s, pos = read_integer(body, pos, what)
    expect_end(body, pos, what)
    return r, s


def _algorithm() -> bytes:
    return sequence(encode_oid(OID_EC_PUBLIC_KEY), encode_oid(OID_SM2_CURVE))


def _read_algorithm(data: bytes, pos: int, what: str) -> int:
    body, pos = read_tlv(data, pos, SEQUENCE, what)
    oid, inner = read_tlv(body, 0, OID, what)
    if decode_oid(oid) != OID_EC_PUBLIC_KEY:
        raise EncodingError(f"{what}: the key is not an elliptic-curve key (OID {decode_oid(oid)})", data)
    curve, inner = read_tlv(body, inner, OID, what)
    if decode_oid(curve) != OID_SM2_CURVE:
        raise EncodingError(f"{what}: the key is on curve {decode_oid(curve)}, not SM2 ({OID_SM2_CURVE})", data)
    expect_end(body, inner, what)
    return pos


def encode_spki(point: bytes) -> bytes:
    """SubjectPublicKeyInfo (RFC 5480) of an SM2 public key; ``point`` is SEC1 (04 || x || y)."""
    return sequence(_algorithm(), tlv(BIT_STRING, b"\x00" + point))


def decode_spki(der: bytes) -> bytes:
    """The SEC1 point inside an SM2 SubjectPublicKeyInfo."""
    what = "SM2 public key"
    body, end = read_tlv(der, 0, SEQUENCE, what)
    expect_end(der, end, what)
    pos = _read_algorithm(body, 0, what)
    bits, pos = read_tlv(body, pos, BIT_STRING, what)
    expect_end(body, pos, what)
    if not bits or bits[0] != 0:
        raise EncodingError(f"{what}: the key's BIT STRING has unused bits", der)
    return bits[1:]


def encode_sec1_private(secret: bytes, point: bytes, with_curve: bool) -> bytes:
    """ECPrivateKey (RFC 5915): version 1, the 32-byte secret, [0] curve, [1] public point."""
    parts = [encode_integer(1), tlv(OCTET_STRING, secret)]
    if with_curve:
        parts.append(tlv(CONTEXT_0, encode_oid(OID_SM2_CURVE)))
    parts.append(tlv(CONTEXT_1, tlv(BIT_STRING, b"\x00" + point)))
    return sequence(*parts)


def decode_sec1_private(der: bytes) -> int:
    """The secret integer inside an ECPrivateKey (the optional public point is not trusted:
    the caller recomputes it from the secret)."""
    what = "SM2 private key"
    body, end = read_tlv(der, 0, SEQUENCE, what)
    expect_end(der, end, what)
    version, pos = read_integer(body, 0, what)
    if version != 1:
        raise EncodingError(f"{what}: ECPrivateKey version {version}, expected 1", der)
    secret, pos = read_tlv(body, pos, OCTET_STRING, what)
    if pos < len(body) and body[pos] == CONTEXT_0:
        params, pos = read_tlv(body, pos, CONTEXT_0, what)
        curve, inner = read_tlv(params, 0, OID, what)
        if decode_oid(curve) != OID_SM2_CURVE:
            raise EncodingError(f"{what}: the key is on curve {decode_oid(curve)}, not SM2", der)
    if pos < len(body):
        _, pos = read_tlv(body, pos, CONTEXT_1, what)
    expect_end(body, pos, what)
    return int.from_bytes(secret, "big")


def encode_pkcs8(secret: bytes, point: bytes) -> bytes:
    """PrivateKeyInfo (PKCS #8, RFC 5208), the form ``openssl genpkey -algorithm SM2`` writes."""
    inner = encode_sec1_private(secret, point, with_curve=False)
    return sequence(encode_integer(0), _algorithm(), tlv(OCTET_STRING, inner))


def decode_pkcs8(der: bytes) -> int:
    what = "SM2 private key (PKCS #8)"
    body, end = read_tlv(der, 0, SEQUENCE, what)
    expect_end(der, end, what)
    version, pos = read_integer(body, 0, what)
    if version != 0:
        raise EncodingError(f"{what}: PrivateKeyInfo version {version}, expected 0", der)
    pos = _read_algorithm(body, pos, what)
    inner, pos = read_tlv(body, pos, OCTET_STRING, what)
    if pos < len(body):  # optional attributes [0]: not used by SM2 keys
        raise EncodingError(f"{what}: unexpected attributes after the key", der)
    return decode_sec1_private(inner)


# --- PEM ----------------------------------------------------------------------------------

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*([A-Za-z0-9+/=\s]*?)\s*-----END \1-----")


def pem_encode(label: str, der: bytes) -> str:
    text = base64.b64encode(der).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def pem_decode(text: str | bytes) -> tuple[str, bytes]:
    """``(label, DER bytes)`` of the first PEM block in ``text``."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    match = _PEM.search(text)
    if match is None:
        raise EncodingError("no PEM block found (expected -----BEGIN ...----- and a matching END line)", text)
    try:
        der = base64.b64decode("".join(match.group(2).split()), validate=True)
    except binascii.Error:
        raise EncodingError(f"the PEM block {match.group(1)!r} holds malformed Base64", text) from None
    return match.group(1), der
