"""baresip ctrl_tcp messages and command replies, from bytes captured on baresip 1.0.0."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.connectors.sip.baresip import (
    BaresipEvent,
    ProtocolError,
    Response,
    encode_command,
    parse_call_count,
    parse_callstat,
    parse_message,
    parse_mute,
    parse_reginfo,
    sip_uri,
    sip_user,
    strip_ansi,
)
from ctikit.connectors.sip.netstring import NetstringDecoder

INCOMING = (
    b'{"event":true,"type":"CALL_INCOMING","class":"call","accountaor":"sip:1001@127.0.0.1:25060",'
    b'"direction":"incoming","peeruri":"sip:cust1@127.0.0.1:25060","id":"bdd9146b02555dc8",'
    b'"param":"sip:cust1@127.0.0.1:25060"}'
)
LOCAL_SDP_NO_ID = (
    b'{"event":true,"type":"CALL_LOCAL_SDP","class":"other","accountaor":"sip:cust1@127.0.0.1:25060",'
    b'"direction":"outgoing","peeruri":"sip:1001@127.0.0.1:25060;transport=udp","param":"offer"}'
)
REGINFO = (
    "\n--- User Agents (2) ---\n> sip:1001@127.0.0.1:25060                   \x1b[32mOK \x1b[;m "
    "kamailio (5.6.3 (x86_64/linux)) Expires 300s\n  sip:8000@127.0.0.1:25060                   "
    "\x1b[33mzzz\x1b[;m  Expires 0s\n\n"
)
CALLSTAT = (
    "\n===== Call debug (RINGING) =====\n local_uri:  <sip:1002@127.0.0.1:25060>\n"
    " peer_uri:   <sip:1001@127.0.0.1:25060;transport=udp>\n af=AF_INET id=c02bf4b21f7f944d\n"
    " direction: Outgoing\nSDP session\n"
)


def test_event() -> None:
    msg = parse_message(INCOMING)
    assert msg == BaresipEvent(
        klass="call",
        type="CALL_INCOMING",
        account_aor="sip:1001@127.0.0.1:25060",
        direction="incoming",
        peer_uri="sip:cust1@127.0.0.1:25060",
        call_id="bdd9146b02555dc8",
        param="sip:cust1@127.0.0.1:25060",
    )


def test_event_without_call_id() -> None:
    msg = parse_message(LOCAL_SDP_NO_ID)
    assert isinstance(msg, BaresipEvent) and msg.call_id is None and msg.param == "offer"


def test_response_loses_its_colours() -> None:
    raw = json.dumps({"response": True, "ok": True, "data": REGINFO, "token": "t7"}).encode()
    msg = parse_message(raw)
    assert isinstance(msg, Response) and msg.ok and msg.token == "t7"
    assert "\x1b" not in msg.data and "sip:8000@127.0.0.1:25060" in msg.data


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"hello": 1}', "neither a response nor an event"),
        (b'{"response": true, "data": "x"}', "boolean 'ok'"),
        (b'{"response": true, "ok": "yes"}', "boolean 'ok'"),
        (b'{"event": true, "class": "call"}', "without a 'type'"),
        (b'{"event": true, "type": "CALL_CLOSED", "id": 42}', "'id' is not a string"),
    ],
)
def test_bad_messages_are_protocol_errors(payload: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_message(payload)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_ever_raise_protocol_error(payload: bytes) -> None:
    try:
        parse_message(payload)
    except ProtocolError:
        pass


def test_encode_command() -> None:
    framed = encode_command("dial", "sip:1002@127.0.0.1:5060", "t1")
    (payload,) = NetstringDecoder().feed(framed)
    assert json.loads(payload) == {
        "command": "dial",
        "params": "sip:1002@127.0.0.1:5060",
        "token": "t1",
    }
    assert json.loads(NetstringDecoder().feed(encode_command("hangup"))[0]) == {"command": "hangup"}
    with pytest.raises(ValueError):
        encode_command("dial; rm")
    with pytest.raises(ValueError):
        encode_command("dial", "sip:x\n")


def test_reply_parsers() -> None:
    assert parse_reginfo(REGINFO) == {
        "sip:1001@127.0.0.1:25060": True,
        "sip:8000@127.0.0.1:25060": False,
    }
    assert parse_callstat(CALLSTAT) == ("RINGING", "c02bf4b21f7f944d")
    assert parse_callstat("no call") is None
    listing = "\n--- Active calls (2) ---\n> [line 1]  0:00:00   INCOMING   sip:cust1@x\n"
    assert parse_call_count(listing) == 2
    assert parse_call_count("\n--- Active calls (0) ---\n\n") == 0
    assert parse_call_count("something else") is None
    assert parse_mute("\ncall muted\n") is True
    assert parse_mute("\ncall un-muted\n") is False
    assert parse_mute("") is None
    assert strip_ansi("\x1b[32mOK \x1b[;m") == "OK "


@pytest.mark.parametrize(
    ("uri", "user"),
    [
        ("sip:cust1@127.0.0.1:25060", "cust1"),
        ("sip:1001@127.0.0.1:25060;transport=udp", "1001"),
        ('"Bob" <sip:+14155550100@host>;tag=1', "+14155550100"),
        ("sips:a%23b@host", "a#b"),
        ("sip:127.0.0.1:5060", None),
        ("", None),
        (None, None),
        ("tel:+1555", None),
    ],
)
def test_sip_user(uri: str | None, user: str | None) -> None:
    assert sip_user(uri) == user


def test_sip_uri_escapes_the_user() -> None:
    assert sip_uri("1002", "127.0.0.1", 5060) == "sip:1002@127.0.0.1:5060"
    assert sip_uri("*72#", "127.0.0.1", 5060) == "sip:*72%23@127.0.0.1:5060"
    assert sip_user(sip_uri("+1-555.0100", "h", 1)) == "+1-555.0100"
