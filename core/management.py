"""RabbitMQ's management HTTP API, read-only (plus the one write --trace-on needs).

Discovery reads a vhost's real topology from it (definitions, queues with their type and effective
policy, consumers); observe turns the firehose on and off with `set_tracing`. Nothing else is ever
written. The client holds its credentials apart from its base URL, so the URL it shows in errors and
status lines has no password in it; every error is one line (an InputError: the user pointed
mqscope at the wrong place, or the plugin is off) and names the fix.

Default location: the broker URL's host on port 15672 with the broker URL's user and password (guest
and guest when the URL has none), as the management UI itself is usually reached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from core.backends.base import mask_password
from core.errors import InputError
from core.text import short

DEFAULT_MANAGEMENT_PORT = 15672
DEFAULT_TIMEOUT = 5.0
"""Seconds for one request (connect and read): a vhost's definitions come back in well under that."""
MAX_REPLY_BYTES = 64 * 1024 * 1024
"""A reply bigger than this is refused rather than parsed (a real vhost's definitions are far smaller)."""


class ManagementError(InputError):
    """The management API cannot be used as asked; str() is one line and never holds a password."""


class ManagementUnreachable(ManagementError):
    """Nothing answers HTTP at the URL (plugin off, wrong host or port, or it went away)."""


class ManagementRefused(ManagementError):
    """401/403: wrong user or password, or a user without the management tag or vhost access."""


class ManagementNotFound(ManagementError):
    """404: the vhost (or object) does not exist."""


class ManagementBadReply(ManagementError):
    """The reply is not the JSON the management API sends: something else listens there."""


@dataclass(frozen=True)
class ManagementClient:
    """A base URL without credentials, the credentials apart, and a timeout."""

    base_url: str
    user: str = "guest"
    password: str = field(default="guest", repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def for_broker(cls, broker_url: str, management_url: str | None = None) -> ManagementClient:
        """The client for `--management URL` (credentials in it win), else the broker's host on
        port 15672; the user and password default to the broker URL's, then guest/guest."""
        try:
            broker = urlsplit(broker_url)
            user = unquote(broker.username) if broker.username else "guest"
            password = unquote(broker.password) if broker.password is not None else "guest"
            host = broker.hostname or "127.0.0.1"
        except ValueError:
            user, password, host = "guest", "guest", "127.0.0.1"
        if management_url is None:
            shown_host = f"[{host}]" if ":" in host else host
            return cls(f"http://{shown_host}:{DEFAULT_MANAGEMENT_PORT}", user, password)
        return cls._from_url(management_url, user, password)

    @classmethod
    def _from_url(cls, url: str, user: str, password: str) -> ManagementClient:
        shown = mask_password(url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ManagementError(f"--management {shown}: not a usable URL (bad host or port)") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ManagementError(
                f"--management {shown}: give an http:// or https:// URL (http://host:15672)"
            )
        if parts.query or parts.fragment:
            raise ManagementError(f"--management {shown}: no query string or fragment, please")
        if parts.username is not None:
            user = unquote(parts.username)
            password = unquote(parts.password) if parts.password is not None else ""
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = host if port is None else f"{host}:{port}"
        base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        return cls(base, user, password)

    # -- reading ---------------------------------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        return self._object(self._get("/api/overview"), "/api/overview")

    def vhosts(self) -> list[dict[str, Any]]:
        return self._array(self._get("/api/vhosts"), "/api/vhosts")

    def definitions(self, vhost: str) -> dict[str, Any]:
        """The vhost's definitions: the same JSON as `rabbitmqctl export_definitions` for one vhost."""
        path = f"/api/definitions/{vhost_path(vhost)}"
        return self._object(self._get(path, vhost=vhost), path)

    def queues(self, vhost: str) -> list[dict[str, Any]]:
        """Each queue with its type, depth, consumer count and effective policy."""
        path = f"/api/queues/{vhost_path(vhost)}"
        return self._array(self._get(path, vhost=vhost), path)

    def consumers(self, vhost: str) -> list[dict[str, Any]]:
        path = f"/api/consumers/{vhost_path(vhost)}"
        return self._array(self._get(path, vhost=vhost), path)

    def exchanges(self, vhost: str) -> list[dict[str, Any]]:
        path = f"/api/exchanges/{vhost_path(vhost)}"
        return self._array(self._get(path, vhost=vhost), path)

    def bindings(self, vhost: str) -> list[dict[str, Any]]:
        path = f"/api/bindings/{vhost_path(vhost)}"
        return self._array(self._get(path, vhost=vhost), path)

    # -- the one write ---------------------------------------------------------------------------
    def set_tracing(self, vhost: str, on: bool) -> None:
        """Turn the vhost's firehose on or off (PUT /api/vhosts/{vhost} {"tracing": on}): --trace-on."""
        self._request("PUT", f"/api/vhosts/{vhost_path(vhost)}", vhost=vhost, body={"tracing": on})

    def tracing(self, vhost: str) -> bool:
        """Whether the vhost's firehose is on (GET /api/vhosts/{vhost})."""
        path = f"/api/vhosts/{vhost_path(vhost)}"
        return self._object(self._get(path, vhost=vhost), path).get("tracing") is True

    # -- plumbing --------------------------------------------------------------------------------
    def _get(self, path: str, vhost: str | None = None) -> Any:
        reply = self._request("GET", path, vhost=vhost)
        if len(reply.content) > MAX_REPLY_BYTES:
            raise ManagementBadReply(f"{self.base_url}{path}: reply too large ({len(reply.content)} bytes)")
        try:
            return json.loads(reply.content)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise ManagementBadReply(
                f"{self.base_url}{path} did not answer JSON: is this RabbitMQ's management API?"
            ) from None

    def _request(
        self, method: str, path: str, vhost: str | None = None, body: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            with httpx.Client(timeout=self.timeout, auth=(self.user, self.password)) as client:
                reply = client.request(method, url, json=body)
        except httpx.TimeoutException:
            raise ManagementUnreachable(
                f"the management API at {self.base_url} did not answer within {self.timeout:g}s"
            ) from None
        except httpx.TransportError:
            raise ManagementUnreachable(
                f"no management API at {self.base_url} "
                "(enable rabbitmq_management, or give --definitions FILE)"
            ) from None
        if reply.status_code in (401, 403):
            raise ManagementRefused(
                f"the management API at {self.base_url} refused user {short(self.user)} "
                f"({reply.status_code}: wrong user or password, or no management tag or vhost access)"
            )
        if reply.status_code == 404:
            if vhost is not None:
                raise ManagementNotFound(
                    f"no vhost {short(vhost)} at {self.base_url} (pick one with --vhost)"
                )
            raise ManagementNotFound(f"{url}: not found (is this RabbitMQ's management API?)")
        if reply.status_code >= 400:
            raise ManagementError(f"{method} {url}: HTTP {reply.status_code} {reply.reason_phrase}")
        return reply

    def _object(self, data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ManagementBadReply(f"{self.base_url}{path}: expected a JSON object")
        return data

    def _array(self, data: Any, path: str) -> list[dict[str, Any]]:
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise ManagementBadReply(f"{self.base_url}{path}: expected a JSON array of objects")
        return data


def vhost_path(vhost: str) -> str:
    """The vhost as one path segment: every reserved character quoted (`/` is `%2F`)."""
    return quote(vhost, safe="")
