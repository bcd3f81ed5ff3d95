"""JSON bodies exactly as kombu's "json" serializer writes and reads them, minus its per-message set-up.

kombu's registry builds a new JSONEncoder for every dumps and a new JSONDecoder for every loads (its
own classes, with its object hook), inside a context manager that re-wraps errors: at thousands of
messages a second that was the largest single cost of publishing and of consuming (figures in
benchmarks/NOTES.md). The same classes with the same options, built once, give the same text and the
same objects. Whenever kombu's json codec is not its own (kombu.serialization.register replaced it),
callers use kombu's path instead: `kombu_json_in_use()` says which.
"""

from __future__ import annotations

import json
from typing import Any

from kombu.exceptions import DecodeError, EncodeError
from kombu.serialization import registry
from kombu.utils import json as kombu_json

CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"

_encoder = kombu_json.JSONEncoder()
"""kombu_json.dumps(body) is json.dumps(body, cls=kombu_json.JSONEncoder): this encoder, made each
time. Encoding keeps no state between calls, so one serves every thread."""


def kombu_json_in_use() -> bool:
    """True while kombu's "json" serializer is kombu's own dumps and loads."""
    codec = registry._encoders.get("json")
    return (
        codec is not None
        and codec.encoder is kombu_json.dumps
        and registry._decoders.get(CONTENT_TYPE) is kombu_json.loads
    )


def dumps(body: Any) -> str:
    """The text kombu's json serializer makes of `body`; EncodeError as kombu raises it."""
    try:
        text: str = _encoder.encode(body)
    except Exception as exc:  # what kombu's registry wraps, wrapped the same way
        raise EncodeError(exc) from exc
    return text


class Decoder:
    """kombu_json.loads with its decoder made once: one per thread (a channel's), never shared."""

    def __init__(self) -> None:
        self._decoder = json.JSONDecoder(object_hook=kombu_json.object_hook)

    def loads(self, data: bytes | str) -> Any:
        """The object kombu's json serializer reads from `data`; DecodeError as kombu raises it."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            return self._decoder.decode(text)
        except Exception as exc:  # what kombu's registry wraps, wrapped the same way
            raise DecodeError(exc) from exc
