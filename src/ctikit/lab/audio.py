"""Measuring the lab's audio: tone levels in WAV files and in rtpengine's RTP recordings.

Pure functions over bytes and samples (no numpy): :func:`tone_db` is a Goertzel filter, the
power of one frequency in a block of samples, in dB relative to a full-scale sine; the lab's
tones are pure, so -20 dB is loud and -60 dB is silence. :func:`read_wav` reads what a
recording caller's baresip wrote (``sndfile``: what it received, decoded);
:func:`read_rtp_pcap` reads what rtpengine recorded (``record-call``: the decrypted RTP it
received from each side) and :func:`pcm_of` turns G.711 payloads back into samples.
"""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

FULL_SCALE = 32768.0
SILENT_DB = -120.0


def tone_db(samples: Sequence[int], rate: int, freq: float) -> float:
    """The level of ``freq`` in ``samples`` (16-bit), in dB below a full-scale sine."""
    n = len(samples)
    if n == 0:
        return SILENT_DB
    w = 2 * math.pi * freq / rate
    coeff = 2 * math.cos(w)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = max(s1 * s1 + s2 * s2 - coeff * s1 * s2, 0.0)
    amplitude = 2 * math.sqrt(power) / n  # of a sine at freq
    return max(20 * math.log10(amplitude / FULL_SCALE), SILENT_DB) if amplitude else SILENT_DB


def levels(samples: Sequence[int], rate: int, freq: float, *, block: float = 0.1) -> list[float]:
    """:func:`tone_db` of consecutive ``block``-second pieces."""
    size = max(1, int(rate * block))
    return [tone_db(samples[i : i + size], rate, freq) for i in range(0, len(samples), size)]


def read_wav(path: Path) -> tuple[int, list[int]]:
    """(sample rate, 16-bit samples of the first channel) of a WAV file. A file still being
    written (its header not final yet) is read up to its last whole frame."""
    with path.open("rb") as f:
        data = f.read()
    try:
        with wave.open(str(path)) as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
    except (wave.Error, EOFError):
        raise ValueError(f"{path} is not a WAV file") from None
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit samples, expected 16")
    start = data.find(b"data")
    if start < 0:
        raise ValueError(f"{path} has no data chunk")
    body = data[start + 8 :]
    frame = 2 * channels
    body = body[: len(body) - len(body) % frame]
    samples = struct.unpack(f"<{len(body) // 2}h", body)
    return rate, list(samples[::channels])


# ---------------------------------------------------------------- RTP capture


@dataclass(frozen=True, slots=True)
class RtpPacket:
    at: float  # capture time, seconds since the epoch
    src: tuple[str, int]
    dst: tuple[str, int]
    payload_type: int
    ssrc: int
    payload: bytes


def read_rtp_pcap(path: Path) -> list[RtpPacket]:
    """The RTP packets (IPv4/UDP, RTCP left out) of a pcap file as rtpengine writes it
    (``--recording-format=raw``: link type RAW; Ethernet captures are read too)."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">"}.get(magic)
    if endian is None:
        raise ValueError(f"{path} is not a pcap file (microsecond, classic format)")
    link = struct.unpack(endian + "I", data[20:24])[0]
    skip = 14 if link == 1 else 0  # Ethernet header; RAW (101, 228) has none
    out: list[RtpPacket] = []
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack(endian + "IIII", data[off : off + 16])
        frame = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        pkt = _rtp_of(frame[skip:], sec + usec / 1e6)
        if pkt is not None:
            out.append(pkt)
    return out


def _rtp_of(ip: bytes, at: float) -> RtpPacket | None:
    if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 15) * 4
    sport, dport = struct.unpack("!HH", ip[ihl : ihl + 4])
    rtp = ip[ihl + 8 :]
    if len(rtp) < 12 or rtp[0] >> 6 != 2 or 72 <= (rtp[1] & 0x7F) <= 79:  # 72-79: RTCP
        return None
    count = rtp[0] & 15
    start = 12 + 4 * count
    if rtp[0] & 0x10 and len(rtp) >= start + 4:  # header extension
        start += 4 + 4 * struct.unpack("!H", rtp[start + 2 : start + 4])[0]
    end = len(rtp) - (rtp[-1] if rtp[0] & 0x20 and rtp else 0)  # padding
    src = (".".join(map(str, ip[12:16])), sport)
    dst = (".".join(map(str, ip[16:20])), dport)
    ssrc = struct.unpack("!I", rtp[8:12])[0]
    return RtpPacket(at, src, dst, rtp[1] & 0x7F, ssrc, rtp[start:end])


def _ulaw(byte: int) -> int:
    b = ~byte & 0xFF
    magnitude = (((b & 0x0F) << 3) + 0x84) << ((b >> 4) & 7)
    return (0x84 - magnitude) if b & 0x80 else (magnitude - 0x84)


def _alaw(byte: int) -> int:
    b = byte ^ 0x55
    exp, man = (b >> 4) & 7, b & 0x0F
    value = (man << 4) + 8 if exp == 0 else ((man << 4) + 0x108) << (exp - 1)
    return value if b & 0x80 else -value


_ULAW = [_ulaw(b) for b in range(256)]
_ALAW = [_alaw(b) for b in range(256)]
G711 = {0: _ULAW, 8: _ALAW}  # static payload types: PCMU, PCMA


def pcm_of(packets: Iterable[RtpPacket]) -> list[int]:
    """The 8 kHz samples of the G.711 packets among ``packets`` (others are skipped)."""
    out: list[int] = []
    for p in packets:
        table = G711.get(p.payload_type)
        if table is not None:
            out.extend(table[b] for b in p.payload)
    return out
