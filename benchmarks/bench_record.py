"""--record's cost and --replay's pace: N messages through the seed (no work time) headless, with and
without a recorder teeing the stream, alternating rounds; then the recording replayed at 4x.

Prints ratios, not absolute targets: record/plain wall time (1.0 is free), and replay/recorded time
at 4x (0.25 when the replay keeps the recorded pace; above it when it cannot keep up).
Run `python benchmarks/bench_record.py [--messages 20000] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from bench_throughput import seed_without_work

from core.engine import Engine
from core.headless import HeadlessOptions, run_headless
from core.recording import Recorder, Recording, header
from core.replay import ReplayEngine, run_replay_headless
from tui.testing import reset_broker_state


def live(messages: int, record: Path | None) -> float:
    reset_broker_state()
    scenario = seed_without_work()
    engine = Engine(scenario, "mqscope://")
    recorder = None
    if record is not None:
        head = header(broker="mqscope://", scenario="seed", title="", topology=engine.topology, mode="live")
        recorder = Recorder(str(record), head)
        recorder.tee(engine.events)
    options = HeadlessOptions(publish=["video.upload", "user.login"], repeat=messages // 2, timeout=600)
    started = time.perf_counter()
    code = run_headless(engine, options, io.StringIO())
    took = time.perf_counter() - started
    if recorder is not None:
        recorder.close()
    assert code == 0
    return took


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plain: list[float] = []
    recorded: list[float] = []
    replayed: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.jsonl"
        for _ in range(args.rounds):
            plain.append(live(args.messages, None))
            recorded.append(live(args.messages, path))
            started = time.perf_counter()
            engine = ReplayEngine(Recording(str(path)), speed=4.0, announce_end=False)
            assert run_replay_headless(engine, True, io.StringIO()) == 0
            replayed.append((time.perf_counter() - started) / recorded[-1])
        lines = sum(1 for _ in path.open())
    print(f"{args.messages} messages, {lines - 1} events recorded, {args.rounds} rounds (medians)")
    print(f"record / plain wall time:      {statistics.median(recorded) / statistics.median(plain):.2f}")
    print(f"replay at 4x / recorded time:  {statistics.median(replayed):.2f}  (0.25 keeps the pace)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
