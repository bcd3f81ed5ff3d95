"""amqp:// URLs: whatever the password and whatever is wrong with the URL, the password never shows."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.backends import BrokerUrlError, backend_for
from core.backends.amqp import AmqpBackend, scrub

PASSWORDS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=6, max_size=20
).filter(lambda p: "guest" not in p and "127.0.0.1" not in p and not p.isdigit())
TAILS = st.sampled_from(["127.0.0.1:5672//", "127.0.0.1:notaport/", "/", "127.0.0.1:0/", "[::1", "h:99999/x"])


def shown(url: str) -> str:
    try:
        backend = backend_for(url)
    except BrokerUrlError as exc:
        return str(exc)
    return backend.display_url()


@settings(max_examples=300, deadline=None)
@given(password=PASSWORDS, tail=TAILS, encode=st.booleans())
@example(password="00000?", tail="127.0.0.1:5672//", encode=False)  # '?' made it host:port, shown raw
@example(password="12345/", tail="127.0.0.1:5672//", encode=False)  # '/' too: a valid-looking port
@example(password="sec#ret", tail="127.0.0.1:5672//", encode=False)
def test_password_never_in_display_or_errors(password: str, tail: str, encode: bool) -> None:
    secret = quote(password, safe="") if encode else password
    url = f"amqp://guest:{secret}@{tail}"
    text = shown(url)
    assert "\n" not in text
    assert secret not in text and password not in text, text


@given(password=PASSWORDS)
def test_scrub_removes_plain_and_encoded_passwords(password: str) -> None:
    url = f"amqp://guest:{quote(password, safe='')}@127.0.0.1:5672//"
    message = f"failed for {password} and {quote(password, safe='')}"
    assert password not in scrub(message, url)


def test_amqp_backend_is_faithful_and_detects_returns() -> None:
    backend = backend_for("amqp://guest:guest@127.0.0.1:5672//")
    assert isinstance(backend, AmqpBackend)
    assert backend.faithful and backend.detects_returns and not backend.reports_routing
    assert backend.display_url() == "amqp://guest:***@127.0.0.1:5672//"
    assert isinstance(backend_for("pyamqp://127.0.0.1//"), AmqpBackend)
