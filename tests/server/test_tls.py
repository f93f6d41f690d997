"""HTTPS on a single node from the config: a real server process with a self-signed
certificate made by the openssl command, and one-line refusals for bad files."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest

from ctikit.config import Config
from ctikit.server.tls import tls_context
from ctikit.testing import CtikitProcess, run_ctikit

PASSWORD = "correct horse battery"
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")


def _cert(root: Path, name: str) -> tuple[Path, Path]:
    cert, key = root / f"{name}.crt", root / f"{name}.key"
    subprocess.run(
        [
            str(OPENSSL), "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _config(root: Path, **server: str) -> Path:
    lines = ["[server]", 'host = "127.0.0.1"', "port = 0", f'database = "{root / "t.db"}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in server.items()]
    path = root / "ctikit.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_https_and_wss_with_the_configured_certificate(tmp_path: Path) -> None:
    cert, key = _cert(tmp_path, "server")
    config = _config(tmp_path, tls_cert=str(cert), tls_key=str(key))
    run_ctikit("user", "add", "alice", "--password-stdin", "--config", str(config), stdin=PASSWORD)
    server = CtikitProcess(["serve", "--config", str(config)], tmp_path / "server.log")
    try:
        assert server.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust)) as s:
            login = {"username": "alice", "password": PASSWORD}
            async with s.post(f"{server.url}/api/login", json=login) as r:
                body = await r.json()
                assert body["success"], body
                cookie = r.cookies["ctikit_session"]
                assert cookie["secure"] and cookie["httponly"]  # HTTPS: a Secure cookie
            wss = server.url.replace("https://", "wss://")
            async with s.ws_connect(f"{wss}/ws?agent=alice&token={body['token']}") as ws:
                assert (await ws.receive_json(timeout=10))["type"] == "hello"
        # A client that does not trust the certificate is refused by its own check.
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await s.get(f"{server.url}/api/health")
        # Plain HTTP to the HTTPS port gets no HTTP answer.
        plain = server.url.replace("https://", "http://")
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.ClientError):
                async with s.get(f"{plain}/api/health") as r:
                    await r.read()
        # TLS 1.2 is enough (older versions are off: see the next test).
        tls12 = ssl.create_default_context(cafile=str(cert))
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls12)) as s:
            async with s.get(f"{server.url}/api/health") as r:
                assert r.status == 200
    finally:
        assert server.stop() == 0


def test_the_context_wants_tls_1_2_at_least(tmp_path: Path) -> None:
    cert, key = _cert(tmp_path, "a")
    context = tls_context(Config(tls_cert=str(cert), tls_key=str(key)))
    assert context is not None and context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert tls_context(Config()) is None


def test_bad_certificate_files_are_one_line_before_anything_starts(tmp_path: Path) -> None:
    cert, key = _cert(tmp_path, "a")
    _, other_key = _cert(tmp_path, "b")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    cases = [
        ({"tls_cert": str(tmp_path / "nope.crt"), "tls_key": str(key)}, "no file"),
        ({"tls_cert": str(cert), "tls_key": str(tmp_path)}, "is a directory"),
        ({"tls_cert": str(cert)}, "tls_cert is set but tls_key is not"),
        ({"tls_cert": str(garbage), "tls_key": str(key)}, "cannot load them"),
        ({"tls_cert": str(cert), "tls_key": str(other_key)}, "is not the key of the certificate"),
    ]
    for server, expected in cases:
        config = _config(tmp_path, **server)
        done = run_ctikit("serve", "--config", str(config), check=False, timeout=30)
        assert done.returncode == 1, (server, done)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (server, done.stderr)
        assert not (tmp_path / "t.db").exists()  # refused before the database was opened
