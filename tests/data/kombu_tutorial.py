"""Kombu's "smart task router" tutorial, as the tutorial has it (defects included), on memory://.

mqscope runs it unchanged with `python -m tui --broker memory:// --run tests/data/kombu_tutorial.py`.
Its defects are kept on purpose: it dispatches by routing key (the audit copy of video.upload is
"transcoded" too), never acks or rejects a message its callback failed on (with prefetch 1 the worker
would stall), and shares one connection between two threads.
"""

import logging
import threading
import time
import uuid

from kombu import Connection, Exchange, Producer, Queue
from kombu.mixins import ConsumerMixin

logging.basicConfig(level=logging.INFO, format="%(message)s")
logger = logging.getLogger(__name__)

BROKER_URL = "memory://localhost/"

media_exchange = Exchange("media_exchange", type="topic", durable=True)
video_queue = Queue("video_queue", exchange=media_exchange, routing_key="video.#")
audit_queue = Queue("audit_queue", exchange=media_exchange, routing_key="#")


class Worker(ConsumerMixin):
    def __init__(self, connection):
        self.connection = connection

    def get_consumers(self, Consumer, channel):
        return [
            Consumer(
                queues=[video_queue, audit_queue],
                accept=["json"],
                prefetch_count=1,
                callbacks=[self.process_task],
            )
        ]

    def process_task(self, body, message):
        routing_key = message.delivery_info["routing_key"]
        logger.info(f"RECEIVED: {routing_key} | Payload ID: {body['id']}")
        try:
            if "video" in routing_key:
                logger.info("  -> Transcoding video...")
                time.sleep(0.5)
            else:
                logger.info("  -> Writing audit log...")
            message.ack()
            logger.info("ACKNOWLEDGED")
        except Exception as exc:
            logger.error(f"Error processing task: {exc}")


def run_producer(connection):
    producer = Producer(connection)
    tasks = [("video.upload", {"file": "movie.mp4"}), ("user.login", {"user": "admin"})]
    for routing_key, payload in tasks:
        payload["id"] = str(uuid.uuid4())[:8]
        logger.info(f"SENDING: {routing_key} {payload}")
        producer.publish(
            payload,
            exchange=media_exchange,
            routing_key=routing_key,
            serializer="json",
            declare=[video_queue, audit_queue],
        )
        time.sleep(1.5)


def run_example():
    with Connection(BROKER_URL) as conn:
        worker = Worker(conn)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        time.sleep(1)
        run_producer(conn)
        time.sleep(2)
        worker.should_stop = True


if __name__ == "__main__":
    run_example()
