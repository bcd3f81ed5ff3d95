"""Capture real firehose traces into tests/data/firehose_trace_3_10_8.json (run by hand, once).

Needs a RabbitMQ with tracing on for "/" (scripts/rabbitmq.sh ctl STATE trace_on -p /). Publishes to a
topic exchange with two queues, through the default exchange, and to an exchange with no bindings;
consumes one queue (requeueing its first message once, so a redelivery is traced) and basic.gets the
other; prints what its own trace queue received as JSON:
    python tests/data/capture_firehose.py URL > tests/data/firehose_trace_3_10_8.json
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any

from kombu import Connection, Consumer, Exchange, Message, Producer, Queue

URL = sys.argv[1] if len(sys.argv) > 1 else "amqp://guest:guest@127.0.0.1:5672//"


def main() -> None:
    trace: list[dict[str, Any]] = []

    def keep(message: Message) -> None:
        trace.append(
            {
                "routing_key": message.delivery_info["routing_key"],
                "exchange": message.delivery_info["exchange"],
                "headers": message.headers,
                "body": message.body.decode() if isinstance(message.body, bytes) else message.body,
            }
        )

    with Connection(URL) as tconn, Connection(URL) as conn:
        tch = tconn.channel()
        name, _, _ = tch.queue_declare(queue="", exclusive=True, auto_delete=True)
        for key in ("publish.#", "deliver.#"):
            tch.queue_bind(queue=name, exchange="amq.rabbitmq.trace", routing_key=key)
        tracer = Consumer(tch, queues=[Queue(name, no_declare=True)], no_ack=True)
        tracer.register_callback(lambda _body, message: keep(message))
        tracer.consume()
        ch = conn.channel()
        ex = Exchange("cap_exchange", "topic", durable=False)
        ex(ch).declare()
        Queue("cap_video", ex, routing_key="video.#")(ch).declare()
        Queue("cap_audit", ex, routing_key="#")(ch).declare()
        Exchange("cap_empty", "direct", durable=False)(ch).declare()
        p = Producer(ch, serializer="json")
        p.publish({"n": 1}, exchange=ex, routing_key="video.upload", message_id="m1", headers={"h": "v"})
        p.publish({"n": 2}, exchange=ex, routing_key="user.login")
        p.publish({"n": 4}, exchange="", routing_key="cap_audit")
        p.publish({"n": 5}, exchange=ex, routing_key="x")
        time.sleep(0.3)
        first = [True]

        def handle(_body: Any, message: Message) -> None:
            if first[0]:
                first[0] = False
                message.requeue()
            else:
                message.ack()

        worker = Consumer(conn.channel(), queues=[Queue("cap_audit", no_declare=True)], callbacks=[handle])
        worker.consume()
        got = ch.basic_get(queue="cap_video", no_ack=False)
        ch.basic_ack(got.delivery_tag)
        p.publish({"n": 6}, exchange="cap_empty", routing_key="k")
        deadline = time.time() + 2
        while time.time() < deadline:
            for c in (conn, tconn):
                with contextlib.suppress(TimeoutError):
                    c.drain_events(timeout=0.05)
        worker.cancel()
        for queue in ("cap_video", "cap_audit"):
            ch.queue_delete(queue)
        for exchange in ("cap_exchange", "cap_empty"):
            ch.exchange_delete(exchange)
    how = "tests/data/capture_firehose.py"
    json.dump({"rabbitmq": "3.10.8", "how": how, "traces": trace}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
