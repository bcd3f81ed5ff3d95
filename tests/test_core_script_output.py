"""--run's output capture: the program's threads' lines become whole-line events, in order;
mqscope's own threads (main, loops) write through to the stream that was replaced."""

from __future__ import annotations

import io
import threading

from core.events import FlowEvent, ScriptOutput
from core.runner import LoopRunner
from core.script_run import LineSink


def test_lines_of_the_program_and_its_threads_are_events_and_mqscope_writes_through() -> None:
    original = io.StringIO()
    events: list[FlowEvent] = []
    program: list[int] = []
    sink = LineSink(original, "stdout", events.append, lambda: program[0] if program else None)

    def helper() -> None:  # a thread the program starts
        sink.write("from its thread\n")

    def program_body(_stop: object) -> None:
        program.append(threading.get_ident())
        sink.write("half ")
        sink.write("a line\nand the next")
        thread = threading.Thread(target=helper)
        thread.start()
        thread.join()
        sink.write("\n")
        sink.write("unfinished")
        program.clear()  # as ScriptRun does when the program ends: a thread ident is reused later

    def mqscope_loop(_stop: object) -> None:
        sink.write("a warning of mqscope's own loop\n")

    with LoopRunner() as runner:
        runner.start("script", program_body)
        assert runner.join(5)
    with LoopRunner() as runner:
        runner.start("producer", mqscope_loop)
        assert runner.join(5)
    sink.write("headless output\n")  # the main thread
    sink.finish()
    lines = [e.text for e in events if isinstance(e, ScriptOutput)]
    assert lines == ["half a line", "from its thread", "and the next", "unfinished"]
    assert original.getvalue() == "a warning of mqscope's own loop\nheadless output\n"
