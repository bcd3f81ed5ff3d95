"""Issue #10 items 1-3 in the TUI: names, keys and bodies are text (never markup), control characters
are shown as escapes in every view, and hostile input is refused or capped in place."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import TracebackType

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text
from rich.traceback import Traceback
from states import make_app, settle, wait_for
from textual.command import CommandList, CommandPalette
from textual.content import Content
from textual.widgets import Input, Select, Static

from core.events import InternalError
from core.ledger import Ledger
from core.records import BrokerInfo
from core.scenario import load_scenario
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology
from tui.app import MqscopeApp, panic_reason
from tui.explain import verdict_lines
from tui.screen import SessionScreen
from tui.text import visible, visible_lines
from tui.widgets.diagram_grid import Grid
from tui.widgets.error_screen import ErrorScreen
from tui.widgets.event_log import EventLog, styled
from tui.widgets.inspector import node_text
from tui.widgets.scenario_picker import ScenarioPicker
from tui.widgets.status_line import StatusFacts, StatusLine, status_text

CLICK = "[@click=app.quit]x[/]"
CLOSE = "a.[/]"
TITLE = "\x1b]0;PWN\x07"
LINK = "[link=file:///etc/passwd]w[/link]"
KEY = f"k.{TITLE}.{CLICK}"

SCENARIO = r"""
[scenario]
name = "[@click=app.quit]s[/]"
title = "hostile \u001b]0;PWN\u0007 names"

[[exchanges]]
name = "[@click=app.quit]x[/]"
type = "topic"

[[exchanges]]
name = "ex[2J"
type = "fanout"

[[queues]]
name = "a.[/]"
bindings = [{ exchange = "[@click=app.quit]x[/]", routing_key = "#" }]

[[queues]]
name = "q\u001b]0;PWN\u0007"
bindings = [
    { exchange = "[@click=app.quit]x[/]", routing_key = "k.#" },
    { exchange = "ex[2J", routing_key = "" },
]

[[consumers]]
name = "[link=file:///etc/passwd]w[/link]"
queues = ["a.[/]"]
prefetch = 1
work_seconds = 0

[[consumers]]
name = "c\u001b]0;PWN\u0007"
queues = ["q\u001b]0;PWN\u0007"]
prefetch = 1
work_seconds = 0

[[publish]]
exchange = "[@click=app.quit]x[/]"
routing_key = "k.\u001b]0;PWN\u0007.[@click=app.quit]x[/]"
body = { "a.[/]" = "\u001b]0;PWN\u0007", note = "[@click=app.quit]b[/]" }
after = 0
"""


def _hostile_app(tmp_path: Path, **kwargs: object) -> MqscopeApp:
    path = tmp_path / "hostile.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return make_app(load_scenario(str(path)), **kwargs)  # type: ignore[arg-type]


def _shown(text: str) -> None:
    """Nothing a terminal would obey: every character printable (line breaks aside)."""
    assert all(line.isprintable() for line in text.split("\n")), repr(text)


def _no_actions(spans: object) -> None:
    """No span of a rendered Text/Content carries a link or an @click action."""
    for span in spans:  # type: ignore[attr-defined]
        style = str(span.style)
        assert "link" not in style and "@click" not in style and "meta" not in style, style


def _static_text(app: MqscopeApp, selector: str) -> Text:
    rendered = app.screen.query_one(selector, Static).render()
    assert isinstance(rendered, (Text, Content)), type(rendered)
    return rendered if isinstance(rendered, Text) else Text(rendered.plain)


async def test_palette_lists_hostile_consumer_names_literally(tmp_path: Path) -> None:
    """ctrl+p, "pause": a consumer named `a.[/]`-style markup used to crash the palette; now the hit
    shows the literal name, carries no link or action, and the app keeps running."""
    app = _hostile_app(tmp_path, play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"pause")
        command_list = app.screen.query_one(CommandList)

        def prompts() -> list[Content]:
            return [option.prompt for option in command_list.options]  # type: ignore[misc]

        await wait_for(pilot, lambda: len(prompts()) >= 2, "the pause hits")
        plains = [p.plain for p in prompts()]
        assert any(f"Pause/resume {LINK}" in p for p in plains), plains
        assert any(f"Pause/resume c{visible(TITLE)}" in p for p in plains), plains
        for prompt in prompts():
            _shown(prompt.plain)
            _no_actions(prompt.spans)
        await pilot.press("escape")
        assert app.is_running


async def test_every_view_shows_hostile_names_keys_and_bodies_literally(tmp_path: Path) -> None:
    """The scenario's names, its key and its body hold markup and terminal escapes; lens, select,
    log, inspector, status line, tooltip, canvas, notifications and error screen show them as text."""
    app = _hostile_app(tmp_path)
    notes: list[tuple[str, bool]] = []
    async with app.run_test(size=(150, 40)) as pilot:
        real_notify = app.notify

        def notify(message: str, **kwargs: object) -> None:
            notes.append((message, bool(kwargs.get("markup", True))))
            real_notify(message, **kwargs)  # type: ignore[arg-type]

        app.notify = notify  # type: ignore[method-assign]
        await settle(pilot, published=1)
        screen = app.screen
        assert isinstance(screen, SessionScreen)

        # the lens: exchange picker options, the idle text and the verdicts for a typed key
        # (core refuses control characters in a scenario's exchange names; a broker's may hold them)
        topology = app.ledger.topology
        odd = dataclasses.replace(
            topology, exchanges=(*topology.exchanges, ExchangeSpec("e\x1b[2J", "fanout"))
        )
        screen.lens.show_topology(odd)
        picker: Select[str] = screen.query_one("#exchange", Select)
        await pilot.click(picker)
        await pilot.pause()
        overlay = picker.query_one("SelectOverlay")
        labels = [option.prompt.plain for option in overlay.options]  # type: ignore[attr-defined]
        assert labels == [CLICK, "ex[2J", "e\\x1b[2J"]
        await pilot.press("escape")
        screen.lens.show_topology(topology)
        screen.query_one("#routing-key", Input).value = KEY
        await pilot.pause()
        matches = _static_text(app, "#matches")
        assert CLOSE in matches.plain and f"q{visible(TITLE)}" in matches.plain
        _shown(matches.plain)
        _no_actions(matches.spans)

        # the event log: the key, the queues and the body preview
        log = "\n".join(screen.query_one(EventLog).plain_lines())
        assert CLICK in log and visible(TITLE) in log and LINK in log
        _shown(log)

        # the canvas: a tooltip for the consumer and the painted boxes
        tooltip = node_text(app.ledger, "consumer", f"c{TITLE}", recent=0)
        assert f"c{visible(TITLE)}" in tooltip.plain
        _shown(tooltip.plain)
        rows = [screen.canvas.render_line(y).text for y in range(screen.canvas.size.height)]
        assert any(f"q{visible(TITLE)}"[:8] in row for row in rows), rows
        _shown("\n".join(rows))

        # the inspector on the message: key and body literal
        screen.inspect("message", "00000001")
        await pilot.pause()
        body = _static_text(app, "#inspector-body")
        assert CLICK in body.plain and "[@click=app.quit]b[/]" in body.plain and "PWN" in body.plain
        _shown(body.plain)
        _no_actions(body.spans)

        # the status line names the scenario and the consumer F2-F4 act on
        status = screen.query_one(StatusLine).render()
        assert isinstance(status, Text)
        assert "[@click=app.quit]s[/]" in status.plain and LINK in status.plain
        _shown(status.plain)

        # a notification names the consumer: literal, never markup
        app.action_fail_next(f"c{TITLE}")
        assert notes[-1] == (f"c{visible(TITLE)}: the next message will fail", False)

        # the error screen shows a traceback holding the same text
        error = InternalError(
            where=f"consumer {LINK}", error=f"boom {TITLE}", traceback=f"line {CLICK}\n{TITLE}"
        )
        app.push_screen(ErrorScreen(error))
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ErrorScreen) and bool(app.screen.query("#error-text")),
            "the error screen",
        )
        for selector in ("#error-title", "#error-summary", "#error-text"):
            shown = _static_text(app, selector)
            _shown(shown.plain)
            _no_actions(shown.spans)
        assert LINK in _static_text(app, "#error-title").plain
        assert CLICK in _static_text(app, "#error-text").plain
        assert app.is_running


async def test_a_pasted_key_with_escapes_is_published_as_the_text_it_shows(tmp_path: Path) -> None:
    """A paste is the one way control characters reach the input: they become visible escapes, the
    markup stays brackets, and that is the key that is published."""
    app = _hostile_app(tmp_path, play_script=False)
    async with app.run_test(size=(150, 40)) as pilot:
        key_input = app.screen.query_one("#routing-key", Input)
        key_input.focus()
        key_input.insert_text_at_cursor(KEY)  # what Input does with a paste
        assert key_input.value == visible(KEY)
        await pilot.press("enter")
        await settle(pilot, published=1)
        assert app.ledger.records["00000001"].routing_key == visible(KEY)


async def test_a_5000_digit_json_body_is_refused_in_place() -> None:
    """json.loads raises ValueError past Python's 4,300-digit limit: one line, nothing sent."""
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        app.screen.query_one("#routing-key", Input).value = "video.x"
        app.screen.query_one("#message-body", Input).value = "9" * 5000
        app.screen.query_one("#routing-key", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        problem = _static_text(app, "#lens-problem").plain
        assert problem.startswith("JSON field: ") and "\n" not in problem
        assert "digits" in problem
        assert app.is_running and app.ledger.published == 0


async def test_a_5_mb_body_is_previewed_capped_and_the_app_stays_responsive(tmp_path: Path) -> None:
    """The inspector shows about 4 KB of it and says how much was cut; the app keeps publishing."""
    blob = "x" * 5_000_000
    path = tmp_path / "big.toml"
    seed = (Path(__file__).parents[2] / "core" / "scenarios" / "seed.toml").read_text(encoding="utf-8")
    head = seed.split("[[publish]]")[0]
    path.write_text(
        head + '[[publish]]\nexchange = "media_exchange"\nrouting_key = "user.big"\n'
        f'body = {{ blob = "{blob}" }}\n',
        encoding="utf-8",
    )
    app = make_app(load_scenario(str(path)))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, published=1)
        app.action_inspect_last()
        await pilot.pause()
        shown = _static_text(app, "#inspector-body").plain
        assert len(shown.encode()) < 8_000
        cut = len(json.dumps({"blob": blob}, indent=2)) - 4096
        assert f"… {cut:,} more bytes cut" in shown
        app.screen.query_one("#routing-key", Input).value = "user.after"
        app.screen.query_one("#routing-key", Input).focus()
        await pilot.press("enter")
        await settle(pilot, published=2)
        assert app.ledger.records["00000002"].routing_key == "user.after"


async def test_ctrl_o_typed_in_the_key_input_is_not_the_scenario_picker() -> None:
    """A terminal sends a typed control character exactly as ctrl+o: in the input it opens nothing
    (and the footer dims it); from the diagram it still opens the picker."""
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        key_input = app.screen.query_one("#routing-key", Input)
        assert app.screen.focused is key_input
        await pilot.press("ctrl+o", "ctrl+n", "ctrl+t", "v")
        assert isinstance(app.screen, SessionScreen) and app.consumer == "worker"
        assert key_input.value == "v"
        assert app.screen.active_bindings["ctrl+o"].enabled is False
        app.screen.canvas.focus()
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ScenarioPicker), "the picker from the diagram")


NAMES = st.text(
    alphabet=st.one_of(
        st.sampled_from("[]/@=.#*:\\ \n\t\x1b\x07\x9b\u202e\u200b"),
        st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Cc", "Cf", "Zs")),
    ),
    min_size=1,
    max_size=24,
)
CONSOLE = Console(width=200, color_system="truecolor", legacy_windows=False)


def _terminal_safe(text: Text) -> None:
    """Plain text printable (line breaks aside), and nothing but SGR escapes when rendered."""
    _shown(text.plain)
    _no_actions(text.spans)
    with CONSOLE.capture() as capture:
        CONSOLE.print(text, end="")
    out = capture.get()
    assert "\x1b]" not in out and "\x07" not in out and "\x1b[2J" not in out


@settings(max_examples=40, deadline=None)
@given(name=NAMES)
def test_generated_names_are_shown_literally_in_every_text_view(name: str) -> None:
    """Any name (brackets, controls, bidi, unicode) in the lens, tooltip/inspector, status line and
    canvas: what is shown is `visible(name)`, never markup, never a terminal escape."""
    topology = Topology(
        (ExchangeSpec("ex", "topic"),),
        (QueueSpec(f"q{name}", (BindingSpec("ex", "#"),)),),
        (ConsumerSpec(f"c{name}", (f"q{name}",)),),
    ).validate()
    lens = verdict_lines(topology.binding_table, "ex", "a.b", None)
    assert f"q{visible_lines(name)}" in lens.plain
    _terminal_safe(lens)
    node = node_text(Ledger(topology), "consumer", f"c{name}")
    assert f"c{visible_lines(name)}" in node.plain
    _terminal_safe(node)
    facts = StatusFacts(name, BrokerInfo(url=f"mqscope://{name}"), 1.0, False, name, 0, 0)
    status = status_text(facts)
    assert visible(name) in status.plain
    _terminal_safe(status)
    line = styled(f"RECEIVED [00000001] via {name!r} from q{name} by c{name}")
    assert f"from q{visible(name)} by c{visible(name)}" in line.plain and "\n" not in line.plain
    _terminal_safe(line)
    grid = Grid(60, 1)
    grid.text(0, 0, name, "q_name", 60)
    _shown(grid.line(0))


async def test_undecodable_terminal_input_ends_the_app_with_status_1_and_a_reason() -> None:
    """Textual's input thread cannot decode non-UTF-8 bytes and panics the app with the traceback
    (its LinuxDriver does exactly this); mqscope turns Textual's exit status 0 into 1 and names it."""
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        try:
            b"ab\xff\xfe".decode("utf-8")
        except UnicodeDecodeError:
            app.call_later(app.panic, Traceback())
        await pilot.pause()
    assert app.return_code == 1
    assert "not UTF-8" in panic_reason([Traceback.from_exception(*_decode_error())])


def _decode_error() -> tuple[type[BaseException], BaseException, TracebackType | None]:
    try:
        b"\xff".decode("utf-8")
    except UnicodeDecodeError as exc:
        return type(exc), exc, exc.__traceback__
    raise AssertionError("\\xff decoded")


async def test_a_5_mb_paste_into_the_body_field_is_refused_with_a_reason() -> None:
    """Input re-renders its whole value on each repaint: the lens fields take 64 K characters, and a
    longer paste is refused whole with a notification (the field keeps what it had)."""
    app = make_app("seed", play_script=False)
    notes: list[str] = []
    async with app.run_test(size=(120, 36)) as pilot:
        body = app.screen.query_one("#message-body", Input)
        body.notify = lambda message, **kwargs: notes.append(message)  # type: ignore[assignment,method-assign]
        body.focus()
        body.insert_text_at_cursor('{"a": 1}')
        body.insert_text_at_cursor(json.dumps({"blob": "x" * 5_000_000}))
        await pilot.pause()
        assert body.value == '{"a": 1}'
        assert notes == ["refused: this field holds at most 65,536 characters"]
        await pilot.press("shift+tab")
        app.screen.query_one("#routing-key", Input).value = "user.ok"
        await pilot.press("enter")
        await settle(pilot, published=1)
        assert app.ledger.records["00000001"].body == {"a": 1}
