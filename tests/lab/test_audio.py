"""ctikit.lab.audio: tone levels, WAV files as baresip writes them, rtpengine's pcaps."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from ctikit.lab.audio import RtpPacket, levels, pcm_of, read_rtp_pcap, read_wav, tone_db
from ctikit.lab.phones import write_wav


def _sine(freq: float, rate: int, n: int, amplitude: float) -> list[int]:
    return [int(amplitude * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)]


def test_tone_db_measures_one_frequency() -> None:
    full = _sine(1000, 8000, 800, 32767)
    assert tone_db(full, 8000, 1000) == pytest.approx(0.0, abs=0.01)
    assert tone_db(full, 8000, 1500) < -100
    quiet = _sine(550, 8000, 800, 2000)
    assert tone_db(quiet, 8000, 550) == pytest.approx(20 * math.log10(2000 / 32768), abs=0.1)
    assert tone_db([], 8000, 550) == tone_db([0] * 800, 8000, 550) == -120.0
    low, high = _sine(550, 8000, 800, 8000), _sine(1250, 8000, 800, 8000)
    mixed = [a + b for a, b in zip(low, high, strict=True)]
    assert tone_db(mixed, 8000, 550) == pytest.approx(tone_db(mixed, 8000, 1250), abs=0.5)
    assert levels(quiet + [0] * 800, 8000, 550) == pytest.approx([-24.3, -120], abs=0.1)


def test_read_wav_takes_the_first_channel_and_a_file_still_being_written(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    write_wav(path, seconds=1, rate=8000, freq=440, amplitude=1000)
    rate, samples = read_wav(path)
    assert rate == 8000 and len(samples) == 8000
    assert tone_db(samples, rate, 440) == pytest.approx(20 * math.log10(1000 / 32768), abs=0.1)
    # A recording in progress: the header still says 0 frames, the data is there.
    data = path.read_bytes()
    head = data[:40] + struct.pack("<I", 0)
    (tmp_path / "partial.wav").write_bytes(head + data[44 : 44 + 1001])
    assert len(read_wav(tmp_path / "partial.wav")[1]) == 500
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError, match="not a WAV"):
        read_wav(tmp_path / "bad.wav")


def _rtp(pt: int, payload: bytes, seq: int, *, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, pt | (0x80 if marker else 0), seq, seq * 160, 1234) + payload


def _ip_udp(src: int, dst: int, body: bytes) -> bytes:
    udp = struct.pack("!HHHH", src, dst, 8 + len(body), 0) + body
    return (
        struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0)
        + bytes([127, 0, 0, 1, 127, 0, 0, 2])
        + udp
    )


def test_read_rtp_pcap(tmp_path: Path) -> None:
    frames = [
        (1.5, _ip_udp(4000, 5000, _rtp(0, bytes([0xFF, 0x00, 0x80]), 1))),
        (1.52, _ip_udp(4000, 5000, _rtp(8, bytes([0xD5, 0x2A]), 2))),
        (1.53, _ip_udp(4001, 5001, bytes([0x80, 200]) + bytes(26))),  # RTCP sender report
        (1.54, _ip_udp(4000, 5000, _rtp(101, b"\x01\x0a\x00\xa0", 3, marker=True))),
        (1.55, b"\x60" + bytes(40)),  # IPv6: skipped
    ]
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    for at, frame in frames:
        sec, usec = int(at), round((at % 1) * 1e6)
        out += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
    path = tmp_path / "call.pcap"
    path.write_bytes(out)
    packets = read_rtp_pcap(path)
    assert [p.payload_type for p in packets] == [0, 8, 101]
    first = packets[0]
    assert first == RtpPacket(1.5, ("127.0.0.1", 4000), ("127.0.0.2", 5000), 0, 1234, first.payload)
    # G.711 decoding (ITU-T tables): mu-law 0xFF/0x00/0x80, A-law 0xD5/0x2A.
    assert pcm_of(packets) == [0, -32124, 32124, 8, -32256]
    assert read_rtp_pcap(tmp_path / "call.pcap")[2].payload == b"\x01\x0a\x00\xa0"
    (tmp_path / "x.pcap").write_bytes(b"\x00" * 30)
    with pytest.raises(ValueError, match="not a pcap"):
        read_rtp_pcap(tmp_path / "x.pcap")
