"""Where a project-supplied judge URL may point: public addresses only, checked when it is registered and again
on every connection (so a name that later resolves to an internal address is refused too).

``url_refusal`` and ``address_refusal`` are the rules (pure apart from the DNS look-up); ``GuardedTransport`` is
the httpx transport a project's judge client uses: its network backend resolves the host itself, refuses the
connection when any address is not public, and connects to the address it checked (no second look-up for a
rebinding name to change). TLS still verifies the certificate against the host name. Redirects are never
followed by judge clients (evals.judge_client). The operator's own endpoint (PEEKR_JUDGE_BASE_URL) is trusted
and not guarded: it may well be a local model. PEEKR_JUDGE_ALLOW_PRIVATE=1 lifts the check for projects too.
Proxies from the environment are ignored by the guarded transport: a proxy would resolve the name instead.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import httpcore
import httpx
from httpcore._backends.auto import AutoBackend


class JudgeAddressRefused(Exception):
    """The judge URL points at an address projects may not reach."""


def address_refusal(address: str) -> str:
    """Why a project's judge may not connect to this IP address, or "" when it may (a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (cloud metadata lives there)"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified or not ip.is_global:
        return f"{ip} is not a public address"
    return ""


def url_refusal(
    url: str, *, allow_private: bool, resolve: bool = True, setting: str = "PEEKR_JUDGE_ALLOW_PRIVATE"
) -> str:
    """Why this URL cannot be a project's judge endpoint (or, naming its own setting, another project-supplied
    endpoint such as an alert webhook), or "" when it can."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an OpenAI-compatible base URL starting with http:// or https://"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed: give the key in its own field"
    if allow_private or not resolve:
        return ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError) as exc:
        return f"{parts.hostname} does not resolve ({exc})"
    return _refusals(parts.hostname, addresses, setting)


def _refusals(host: str, addresses: set[str], setting: str = "PEEKR_JUDGE_ALLOW_PRIVATE") -> str:
    reasons = [r for r in (address_refusal(a) for a in sorted(addresses)) if r]
    if not reasons:
        return ""
    what = "judge" if setting == "PEEKR_JUDGE_ALLOW_PRIVATE" else "endpoint"
    return (
        f"{host} resolves to {reasons[0]}; a project's {what} must be a public endpoint "
        f"(the operator can allow private addresses with {setting}=1)"
    )


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = AutoBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [info[4][0] for info in infos]
        reason = _refusals(host, set(addresses))
        if reason:
            raise JudgeAddressRefused(reason)
        return await self._inner.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise JudgeAddressRefused("unix sockets are not judge endpoints")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with a connection pool whose network backend checks every address it dials."""

    def __init__(self, *, verify) -> None:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(verify=verify, limits=limits)
        ssl_context = self._pool._ssl_context  # the one httpx built from `verify`
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(),
        )


class _SyncGuardedBackend(httpcore.NetworkBackend):
    """The same check for synchronous clients (alert webhooks, delivered from a Celery task)."""

    def __init__(self, setting: str) -> None:
        from httpcore._backends.sync import SyncBackend

        self._inner, self._setting = SyncBackend(), setting

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
        reason = _refusals(host, set(addresses), self._setting)
        if reason:
            raise JudgeAddressRefused(reason)
        return self._inner.connect_tcp(
            addresses[0], port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise JudgeAddressRefused("unix sockets are not project endpoints")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class SyncGuardedTransport(httpx.HTTPTransport):
    """httpx's synchronous transport whose connections go to public addresses only (see GuardedTransport)."""

    def __init__(self, *, setting: str) -> None:
        super().__init__()
        ssl_context = self._pool._ssl_context
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=_SyncGuardedBackend(setting))
