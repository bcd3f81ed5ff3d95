"""`python -m tui --serve`: the app in web browsers, through textual-serve.

textual-serve answers each browser connection (each tab) by starting its command in a new process
(`asyncio.create_subprocess_shell`, driven over a pipe by Textual's web driver). That command is
`python -m tui` with this run's scenario, broker, speed, script, tap and theme options, so every tab
gets its own app and, on mqscope://, its own in-process broker, by construction: a broker lives in
its process. On amqp:// every tab is a client of the same RabbitMQ, as two terminals would be.

Serving is refused on an address that is not loopback unless `--public` says so: anyone who can reach
the port can start processes (an app each) on this machine.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys
from dataclasses import dataclass

from core.discovery import DEFAULT_REFRESH_SECONDS
from core.errors import InputError

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) only listens on this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tab_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each browser tab: this interpreter, the same options."""
    words = [sys.executable, "-m", "tui"]
    for option, value in (
        ("--scenario", args.scenario),
        ("--broker", args.broker),
        ("--tap", args.tap),
        ("--theme", args.theme),
        ("--vhost", args.vhost),
        ("--management", args.management),
        ("--definitions", args.definitions),
    ):
        if value is not None:
            words += [option, value]
    words += ["--speed", repr(float(args.speed))]
    if args.refresh != DEFAULT_REFRESH_SECONDS:
        words += ["--refresh", repr(float(args.refresh))]
    if args.no_script:
        words.append("--no-script")
    return shlex.join(words)


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    command: str

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ServeOptions:
        """Checked options, or InputError with the one-line reason."""
        if args.headless:
            raise InputError("--serve runs the TUI in browsers: leave out --headless")
        if not 1 <= args.port <= 65535:
            raise InputError("--port must be between 1 and 65535")
        if not is_loopback(args.host) and not args.public:
            raise InputError(
                f"--host {args.host!r} is not loopback: anyone who reaches it starts an app on this "
                "machine; add --public to serve it anyway"
            )
        return cls(args.host, args.port, tab_command(args))


def run_server(options: ServeOptions) -> int:
    """Serve until interrupted (ctrl+c)."""
    from aiohttp import web
    from textual_serve.server import Server  # imported only to serve: aiohttp is not light

    class PlainServer(Server):
        """textual-serve's banner prints the command through Rich markup: a scenario path holding
        `[red]` would be read as a style, and a --broker URL's password would be shown. Say where
        it serves, in plain text, and not the command."""

        async def on_startup(self, app: web.Application) -> None:
            self.console.print(
                f"mqscope: serving on {self.public_url} (an app and a broker per browser tab)\n"
                "Press Ctrl+C to quit",
                markup=False,
                highlight=False,
            )

    PlainServer(options.command, host=options.host, port=options.port, title="mqscope").serve()
    return 0
