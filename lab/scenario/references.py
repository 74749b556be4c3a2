"""The rules a drill may cite as what it grades (``references: [...]``): a sentence of the
SDK's disaster-recovery description the endpoint implements (``seed: …``, quoted from
:data:`SEED`, ``…`` standing for words left out) or an RFC clause (``RFC 3261 §21.5.4``).
A citation that names neither is refused at validation, with the reason: a report that
groups verdicts by rule must not group them under a rule nobody wrote."""

from __future__ import annotations

import re

# the SDK description's sentences about disaster recovery, as it words them
SEED = (
    "Available: registers and works with the SIP Server normally.",
    "Down or Unavailable: continually attempts to register until the connection is either "
    "successful or explicitly removed.",
    "Once a specified SIP Server comes up after being down, then the SIP Endpoint SDK "
    "registers and works with the SIP Server normally as soon as it becomes available.",
    "SIP Endpoint SDK will register separate connections on both SIP Server sites - even if "
    "they are associated with DNs that have the same name.",
    "On every registration renewal attempt, the SIP Endpoint SDK checks for successful "
    "registration to determine if that SIP Server is down or unavailable.",
    "Whenever there is a change in status for a connection, the SIP Server SDK generates a "
    "notification event that is sent to the application with information about the "
    "connection status.",
    "When the SIP Endpoint SDK is using multiple connections, equal priority is given to each "
    "connection.",
    "Registration on primary and secondary sites occurs simultaneously.",
    "1pcc outbound calls use a particular SIP Server site by dialing from an explicitly "
    "assigned connection. All other calls are put on hold. If the intended SIP Server site is "
    "down then the 1pcc outbound call is made from the second site.",
    "3pcc inbound calls are received and answered using the corresponding connection, while "
    "all other calls are put on hold.",
    "If the first site is down or unavailable then the SIP Endpoint SDK receives 3pcc inbound "
    "calls by using second connection.",
    'A call disconnection reason of "SipError" along with the message "408" or "Request '
    'Timeout" can be interpreted as a sign that the corresponding SIP Server is down or '
    "unavailable.",
    "To support handling more than one connection, the following methods have been added: "
    "AddConnection, EnableConnection, DisableConnection, RemoveConnection.",
    "Notification of changes to the connection status is given by the ConnectionStatusChanged "
    "event.",
    "The default SIP Endpoint SDK re-registration interval is 3600 seconds; different "
    "re-registration intervals can be specified for two connections.",
)
RFC = re.compile(r"RFC \d{3,5} §\d+(?:\.\d+)*")
_WORDS = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def seed_sentence(quote: str) -> str | None:
    """The sentence of :data:`SEED` that ``quote`` quotes (its parts in order, ``…`` or
    ``...`` for words left out; case and punctuation aside), or None."""
    parts = [_words(p) for p in re.split(r"…|\.\.\.", quote)]
    parts = [p for p in parts if p]
    if not parts:
        return None
    for sentence in SEED:
        words, at = _words(sentence), 0
        for part in parts:
            found = next((i for i in range(at, len(words) - len(part) + 1)
                          if words[i : i + len(part)] == part), None)  # fmt: skip
            if found is None:
                break
            at = found + len(part)
        else:
            return sentence
    return None


def problem(reference: str) -> str | None:
    """Why ``reference`` names no rule, or None."""
    if reference.startswith("RFC"):
        if RFC.fullmatch(reference):
            return None
        return f"{reference!r}: an RFC clause is written 'RFC 3261 §21.5.4'"
    if reference.startswith("seed:"):
        if seed_sentence(reference.removeprefix("seed:")) is not None:
            return None
        return (f"{reference!r} quotes no sentence of the SDK's description "
                "(lab/scenario/references.py SEED)")  # fmt: skip
    return f"{reference!r}: a reference is 'RFC 3261 §21.5.4' or 'seed: <its words>'"
