"""The async transport's TLS (verify with a CA bundle, refuse an unknown CA, verify=False)
and its CONNECT tunnel through an HTTP proxy to a TLS server, all on loopback with a
self-signed certificate made by the ``openssl`` command (skipped without it)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator

import pytest

import vllm_client as vc

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

ANSWER = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 21\r\n\r\n{"version": "0.32.0"}'


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("tls")
    crt, key = str(d / "c.pem"), str(d / "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return crt, key


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def tls_server(cert: tuple[str, str]) -> AsyncIterator[int]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert)
    server = await asyncio.start_server(_answer, "127.0.0.1", 0, ssl=ctx)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_tls_with_a_ca_bundle_and_without_verification(cert: tuple[str, str], tls_server: int) -> None:
    url = f"https://localhost:{tls_server}/v1"
    async with vc.AsyncVllmClient(url, verify=cert[0], max_retries=0) as client:
        assert await client.server.version() == "0.32.0"
        assert await client.server.version() == "0.32.0"
        assert client._transport.pool_stats() == {"idle": 1, "in_use": 0, "opened": 1}
    async with vc.AsyncVllmClient(url, verify=False, max_retries=0) as client:
        assert await client.server.version() == "0.32.0"
    async with vc.AsyncVllmClient(url, max_retries=0) as client:
        with pytest.raises(vc.APIConnectionError, match=r"cannot connect.*CERTIFICATE_VERIFY_FAILED"):
            await client.server.version()


async def test_https_through_a_connect_proxy(cert: tuple[str, str], tls_server: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    tunnels: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        tunnels.append(head)
        up_r, up_w = await asyncio.open_connection("127.0.0.1", tls_server)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = vc.AsyncVllmClient(f"https://localhost:{tls_server}/v1", verify=cert[0], max_retries=0)
        client._transport._proxies = {"https": f"http://u:p@127.0.0.1:{port}"}
        # localhost is never proxied by proxy_for: route this test's host through the proxy by hand
        monkeypatch.setattr("vllm_client._transport.async_http.proxy_for", lambda s, h, proxies: proxies.get(s))
        assert await client.server.version() == "0.32.0"
        assert await client.server.version() == "0.32.0"  # the tunnel is kept alive and reused
        await client.aclose()
    finally:
        server.close()
    assert len(tunnels) == 1
    assert tunnels[0].startswith(f"CONNECT localhost:{tls_server} HTTP/1.1\r\n".encode())
    assert b"Proxy-Authorization: Basic dTpw\r\n" in tunnels[0]

