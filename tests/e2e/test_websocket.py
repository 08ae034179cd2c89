"""WebSocket through the forward proxy: aiohttp's ws_connect with a proxy
sends an absolute-URI GET with Upgrade: websocket; after the 101 magpie
relays frames both ways untouched."""

import os

import pytest

from upstream_util import *  # noqa: F401,F403 (fixtures)


def ws_url(srv, path="/ws"):
    return "http://127.0.0.1:%d%s" % (srv.port, path)


@pytest.mark.time_limit(30)
def test_websocket_echo_through_proxy(magpie, ws_origin):
    import aiohttp

    big = os.urandom(100 * 1024)
    messages = ["hello", b"\x00\x01\x02binary", "second text " * 50, big, b"after big", "last"]

    async def main():
        async with aiohttp.ClientSession(trust_env=False) as s:
            async with s.ws_connect(ws_url(ws_origin), proxy=magpie.proxy_url,
                                    max_msg_size=0, timeout=10, receive_timeout=10) as ws:
                got = []
                for msg in messages:
                    if isinstance(msg, str):
                        await ws.send_str(msg)
                        got.append(await ws.receive_str())
                    else:
                        await ws.send_bytes(msg)
                        got.append(await ws.receive_bytes())
                await ws.close()
                return got

    got = run_async(main(), timeout=25)
    assert len(got) == len(messages)
    for i, (sent, back) in enumerate(zip(messages, got)):
        assert back == sent, "message %d (%d bytes) did not echo back intact" % (i, len(sent))
    assert len(ws_origin.upgrades) == 1
    headers = {k.lower(): v for k, v in ws_origin.upgrades[0]}
    assert headers.get("upgrade", "").lower() == "websocket"
    assert "upgrade" in headers.get("connection", "").lower()


@pytest.mark.time_limit(30)
def test_websocket_many_messages_both_directions_pipelined(magpie, ws_origin):
    import aiohttp

    async def main():
        async with aiohttp.ClientSession(trust_env=False) as s:
            async with s.ws_connect(ws_url(ws_origin), proxy=magpie.proxy_url,
                                    max_msg_size=0, timeout=10, receive_timeout=10) as ws:
                for i in range(200):
                    await ws.send_str("msg %d" % i)
                got = [await ws.receive_str() for _ in range(200)]
                await ws.close()
                return got

    assert run_async(main(), timeout=25) == ["msg %d" % i for i in range(200)]

