"""The netstring codec: byte at a time, all at once, any chunking, and malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.connectors.sip.netstring import NetstringDecoder, NetstringError, encode

# Captured from baresip 1.0.0's ctrl_tcp: a response and an event.
CAPTURED = (
    b'79:{"response":true,"ok":true,"data":"ua: sip:1001@127.0.0.1:25060\\n","token":"B"},'
    b'111:{"event":true,"type":"REGISTER_OK","class":"register",'
    b'"accountaor":"sip:7777@127.0.0.1:25060","param":"200 OK"},'
)


def payloads_of(stream: bytes) -> list[bytes]:
    out, rest = [], stream
    while rest:
        length, _, rest = rest.partition(b":")
        out.append(rest[: int(length)])
        rest = rest[int(length) + 1 :]
    return out


def test_captured_bytes_all_at_once() -> None:
    dec = NetstringDecoder()
    got = dec.feed(CAPTURED)
    assert got == payloads_of(CAPTURED)
    assert got[0].startswith(b'{"response":true') and got[1].startswith(b'{"event":true')
    assert dec.buffered == 0


def test_captured_bytes_one_at_a_time() -> None:
    dec = NetstringDecoder()
    got: list[bytes] = []
    for i in range(len(CAPTURED)):
        got += dec.feed(CAPTURED[i : i + 1])
    assert got == payloads_of(CAPTURED)


def test_empty_payload_and_empty_feed() -> None:
    dec = NetstringDecoder()
    assert dec.feed(b"") == []
    assert dec.feed(b"0:,") == [b""]


def test_encode() -> None:
    assert encode(b"hello") == b"5:hello,"
    assert encode(b"") == b"0:,"
    with pytest.raises(TypeError):
        encode("text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"abc", "length expected"),
        (b"12x:", "length expected"),
        (b":abc,", "length expected"),
        (b"012:", "leading zero"),
        (b"3:abc;", "not followed by ','"),
        (b"99999999999", "more than"),
        (b"2000000:", "over the limit"),
        (b"-1:", "length expected"),
        (b" 3:abc,", "length expected"),
    ],
)
def test_malformed_input_is_the_peers_fault(data: bytes, message: str) -> None:
    dec = NetstringDecoder()
    with pytest.raises(NetstringError, match=message):
        dec.feed(data)


def test_a_failed_decoder_stays_failed() -> None:
    dec = NetstringDecoder()
    assert dec.feed(b"1:a,") == [b"a"]
    with pytest.raises(NetstringError):
        dec.feed(b"x")
    with pytest.raises(NetstringError):
        dec.feed(b"1:a,")  # no resynchronisation: the stream is lost


def test_limit_is_configurable() -> None:
    dec = NetstringDecoder(max_payload=4)
    assert dec.feed(b"4:abcd,") == [b"abcd"]
    with pytest.raises(NetstringError, match="over the limit"):
        dec.feed(b"5:")
    with pytest.raises(ValueError):
        NetstringDecoder(max_payload=-1)


def test_incomplete_frame_waits() -> None:
    dec = NetstringDecoder()
    assert dec.feed(b"5:hel") == []
    assert dec.buffered == 5
    assert dec.feed(b"lo") == []  # the comma has not come yet
    assert dec.feed(b",") == [b"hello"]


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_any_chunking_gives_back_the_payloads(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode(p) for p in payloads)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    dec = NetstringDecoder()
    got: list[bytes] = []
    for chunk in chunks:
        got += dec.feed(chunk)
    assert got == payloads
    assert dec.buffered == 0


@given(st.binary(min_size=1, max_size=64))
def test_garbage_never_crashes_only_raises_netstring_error(data: bytes) -> None:
    dec = NetstringDecoder(max_payload=1000)
    try:
        for p in dec.feed(data):
            assert isinstance(p, bytes)
    except NetstringError:
        pass
