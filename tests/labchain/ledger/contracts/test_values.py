"""Canonical encoding of contract values: round trips, one encoding per value, strict decoding."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labchain.core.errors import EncodingError
from labchain.ledger.contracts import Event, decode_value, encode_value
from labchain.ledger.contracts.errors import ContractValueError

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 300), max_value=2 ** 300),
                    st.text(max_size=20), st.binary(max_size=40))
keys = st.one_of(st.text(max_size=8), st.integers(min_value=-1000, max_value=1000), st.binary(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


@given(values)
def test_every_value_round_trips_and_dicts_encode_in_one_order(v):
    data = encode_value(v)
    assert decode_value(data) == v and type(decode_value(data)) is type(v)
    if isinstance(v, dict):
        assert encode_value(dict(reversed(list(v.items())))) == data


def test_known_encodings():
    assert encode_value(None) == b"\x00" and encode_value(True) == b"\x02" and encode_value(0) == b"\x03\x00"
    assert encode_value(-1) == b"\x04\x01\x01" and encode_value(256) == b"\x03\x02\x01\x00"
    assert encode_value("é") == b"\x05\x02\xc3\xa9" and encode_value([1, b"a"]) == b"\x07\x02\x03\x01\x01\x06\x01a"
    assert encode_value((1,)) == encode_value([1])


@pytest.mark.parametrize("data,what", [
    (b"\x03\x01\x00", "leading zero byte"), (b"\x04\x00", "negative zero"), (b"\x05\x01\xff", "not valid UTF-8"),
    (b"\x08\x02\x03\x01\x02\x00\x03\x01\x01\x00", "strictly increasing"), (b"\x00\x00", "trailing byte"),
    (b"\x09", "unknown tag 0x09"), (b"\x06\x85\x00", "shortest form"), (b"\x06\x05ab", "runs past the end"),
    (b"\x07\x01" * 40 + b"\x00", "nest more than 32"), (b"\x08\x01\x07\x00\x00", "a dict key is a list"),
])
def test_non_canonical_or_malformed_bytes_are_refused(data, what):
    with pytest.raises(ContractValueError, match=what) as info:
        decode_value(data)
    assert isinstance(info.value, EncodingError) and info.value.obj == data


@pytest.mark.parametrize("value,what", [(1.5, "float is not a contract value"), ({1, 2}, "set is not a contract"),
                                        ({(1,): 2}, "dict keys of contract values must be str, int or bytes"),
                                        ({True: 1}, "must be str, int or bytes, not bool"),
                                        (2 ** 9000, "larger than the 8192-bit limit")])
def test_non_values_are_refused_by_name(value, what):
    with pytest.raises(ContractValueError, match=what):
        encode_value(value)


def test_event_round_trips_through_its_canonical_bytes():
    e = Event(b"\x01" * 20, "Transfer", (b"\x02" * 32,), encode_value({"amount": 5}))
    assert Event.from_bytes(e.to_bytes()) == e and e.fields == {"amount": 5}
    with pytest.raises(ContractValueError, match="not an event"):
        Event.from_bytes(encode_value([1, 2]))
