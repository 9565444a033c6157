"""Slack's payloads <-> the core's events and replies: what is Slack's own in its adapter.

`event_to_core`, `command_to_core` and `action_to_core` read Events API callbacks, slash
commands and button presses; `render` writes a reply as Block Kit, escaped (`& < >`) so that user
text never forms a mention or a link; `classify` says what a Web API error means to the kit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from adapters import kit
from adapters.kit import Failure, Verdict
from bot.events import Button, ButtonPress, Chat, IncomingMessage, MessageEdited, Reply, Sender
from storage.models import Platform

if TYPE_CHECKING:
    from bot.events import Event

__all__ = [
    "ACTION_PREFIX",
    "BUTTONS_PER_BLOCK",
    "COMMAND",
    "LABEL_LIMIT",
    "SECTION_LIMIT",
    "BotIdentity",
    "SlackMessage",
    "action_channel",
    "action_to_core",
    "classify",
    "command_text",
    "command_to_core",
    "error_code",
    "escape",
    "event_to_core",
    "message_ref",
    "plain_text",
    "render",
]

COMMAND = "/tandem"
# Our buttons' action_id starts with this; the value is the opaque PendingAction token.
ACTION_PREFIX = "tandem:"

# Slack's Block Kit limits.
SECTION_LIMIT = 3000
LABEL_LIMIT = 75
BUTTONS_PER_BLOCK = 25
# 10 sections of 3000 stay under the 40,000 characters Slack keeps of a message's text.
SECTIONS_PER_MESSAGE = 10


# Errors that mean this chat will never take our messages; auth errors are ours, not theirs.
_GONE = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "not_in_channel",
        "messages_tab_disabled",
    }
)
# Slack refuses the message itself: sending it again cannot help.
_REFUSED = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "restricted_action",
    }
)
# chat.update cannot show the reply in place: post it as a new message instead.
_NOT_UPDATABLE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
# Message subtypes that are a person writing; the rest are joins, deletions, bots, ...
_WRITTEN = frozenset({"file_share", "thread_broadcast"})
_MARKUP = re.compile(r"<([^<>]*)>")

Body = Mapping[str, Any]


@dataclass(frozen=True)
class BotIdentity:
    """Who we are in the one workspace we serve, from auth.test."""

    team_id: str
    user_id: str
    bot_id: str


# --- in: Slack payloads -> core events -------------------------------------------------------


def plain_text(text: str) -> str:
    """Slack's message markup back to what the person typed: links, mentions, `&amp;`."""

    def readable(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return label or f"@{target[1:].split('^')[0]}"
        if label and label not in target:
            return f"{label} ({target})"
        return label or target

    text = _MARKUP.sub(readable, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_text(text: str) -> str:
    """`/tandem win Sam read` arrives as "win Sam read": the core's "/win Sam read"."""
    text = text.strip()
    if not text:
        return "/help"
    # "/tandem + Sam read" and "/tandem /log Sam" are already in the core's grammar.
    return f"/{text}" if text[0].isalnum() else text


def message_ref(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def _is_bot(message: Body, bot: BotIdentity) -> bool:
    return (
        bool(message.get("bot_id"))
        or message.get("subtype") == "bot_message"
        or message.get("user") == bot.user_id
    )


def event_to_core(body: Body, bot: BotIdentity) -> Event | None:
    """The core event for an Events API callback; None for what Tandem does not handle."""
    event = body.get("event") or {}
    event_id = body.get("event_id")
    channel = event.get("channel")
    if not isinstance(event_id, str) or not isinstance(channel, str):
        return None
    core_id = f"slack:{event_id}"
    if event.get("type") == "app_mention":
        # A mention in a direct chat also arrives as message.im, which answers it.
        if channel.startswith("D") or _is_bot(event, bot) or not event.get("user"):
            return None
        return _message(event, bot, channel, core_id, private=False)
    if event.get("type") != "message" or event.get("channel_type") != "im":
        # Channels are not subscribed to: they reach Tandem only as mentions.
        return None
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return _edit(event, bot, channel, core_id)
    if (subtype is not None and subtype not in _WRITTEN) or _is_bot(event, bot):
        return None
    if not event.get("user"):
        return None
    return _message(event, bot, channel, core_id, private=True)


def _message(
    event: Body, bot: BotIdentity, channel: str, core_id: str, private: bool
) -> IncomingMessage:
    ts = str(event.get("ts", ""))
    thread_ts = event.get("thread_ts")
    files = event.get("files") or []
    return IncomingMessage(
        sender=Sender(Platform.SLACK, bot.team_id, str(event["user"])),
        chat=Chat(channel, private=private),
        text=plain_text(str(event.get("text") or "")),
        event_id=core_id,
        message_ref=message_ref(channel, ts),
        reply_to_ref=message_ref(channel, thread_ts) if thread_ts and thread_ts != ts else None,
        attachment_ref=str(files[0].get("id")) if files and files[0].get("id") else None,
    )


def _edit(event: Body, bot: BotIdentity, channel: str, core_id: str) -> MessageEdited | None:
    new = event.get("message") or {}
    old = event.get("previous_message") or {}
    # Unfurling a link also changes a message: only a person's own edit counts.
    if (
        _is_bot(new, bot)
        or not new.get("user")
        or "edited" not in new
        or new.get("text") == old.get("text")
    ):
        return None
    return MessageEdited(
        sender=Sender(Platform.SLACK, bot.team_id, str(new["user"])),
        chat=Chat(channel, private=True),
        text=plain_text(str(new.get("text") or "")),
        event_id=core_id,
        message_ref=message_ref(channel, str(new.get("ts", ""))),
    )


def command_to_core(body: Body, workspace: str, private: bool) -> IncomingMessage:
    """`/tandem ...` as the message the core would get had it been typed in a direct chat."""
    # Slack does not retry slash commands; the trigger id is unique to each invocation.
    trigger = body.get("trigger_id") or f"{body.get('channel_id')}:{body.get('user_id')}"
    return IncomingMessage(
        sender=Sender(Platform.SLACK, workspace, str(body.get("user_id", ""))),
        chat=Chat(str(body.get("channel_id", "")), private=private),
        text=command_text(plain_text(str(body.get("text") or ""))),
        event_id=f"slack:command:{trigger}",
    )


def action_to_core(body: Body, workspace: str, private: bool) -> ButtonPress | None:
    """A press of one of our buttons; None for anything else."""
    user = (body.get("user") or {}).get("id")
    channel = action_channel(body)
    actions = body.get("actions") or []
    if not user or not channel or not actions:
        return None
    action = actions[0]
    token = action.get("value")
    if not str(action.get("action_id", "")).startswith(ACTION_PREFIX) or not isinstance(token, str):
        return None
    press = body.get("trigger_id") or f"{channel}:{action.get('action_ts')}"
    return ButtonPress(
        Sender(Platform.SLACK, workspace, str(user)),
        Chat(channel, private),
        token,
        f"slack:action:{press}",
    )


def action_channel(body: Body) -> str:
    return str(
        (body.get("container") or {}).get("channel_id")
        or (body.get("channel") or {}).get("id")
        or ""
    )


# --- out: replies -> Slack messages ----------------------------------------------------------


def escape(text: str) -> str:
    """Text that Slack shows as written: `<@U1>` or `<!channel>` typed by a user stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage: `text` is the notification (and fallback), `blocks` what shows."""

    text: str
    blocks: list[dict[str, Any]]


def render(reply: Reply) -> list[SlackMessage]:
    """A reply as Slack messages: escaped sections, then the buttons on the last message."""
    pieces = kit.split_text(escape(reply.text), SECTION_LIMIT, mend=_outside_entity)
    groups = [
        pieces[n : n + SECTIONS_PER_MESSAGE] for n in range(0, len(pieces), SECTIONS_PER_MESSAGE)
    ] or [[]]
    messages = []
    for number, group in enumerate(groups, start=1):
        blocks = [_section(piece) for piece in group if piece.strip()]
        if number == len(groups):
            blocks.extend(_actions(reply.buttons))
        if blocks:
            messages.append(SlackMessage("".join(group).strip(), blocks))
    return messages


def _outside_entity(text: str, cut: int) -> int:
    """A cut in escaped text moved back to before an entity (`&amp;`) it would split."""
    entity = text.rfind("&", max(0, cut - 4), cut)
    return entity if entity > 0 and ";" not in text[entity:cut] else cut


def _section(text: str) -> dict[str, Any]:
    # plain_text: what people typed (*bold*, `code`, links, mentions) shows exactly as typed.
    return {"type": "section", "text": {"type": "plain_text", "text": text.strip(), "emoji": False}}


def _actions(buttons: Sequence[Button]) -> list[dict[str, Any]]:
    elements = [
        {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{number}",
            "text": {"type": "plain_text", "text": _label(button.label), "emoji": True},
            "value": button.token,
        }
        for number, button in enumerate(buttons)
    ]
    return [
        {"type": "actions", "elements": elements[n : n + BUTTONS_PER_BLOCK]}
        for n in range(0, len(elements), BUTTONS_PER_BLOCK)
    ]


def _label(label: str) -> str:
    return label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"


def classify(error: Exception) -> Verdict | None:
    """What a Web API error means to the kit; None for server and network errors."""
    if not isinstance(error, SlackApiError):
        return None
    code = error_code(error)
    if code == "ratelimited" or error.response.status_code == 429:
        return Verdict(Failure.RATE_LIMITED, retry_after=_retry_after(error))
    if code in _GONE:
        return Verdict(Failure.GONE)
    if code in _REFUSED:
        return Verdict(Failure.REFUSED, reason=code)
    if code in _NOT_UPDATABLE:
        return Verdict(Failure.STALE)
    return None


def error_code(error: SlackApiError) -> str:
    data = error.response.data if isinstance(error.response.data, dict) else {}
    return str(data.get("error", ""))


def _retry_after(error: SlackApiError) -> float:
    for name, value in (error.response.headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                break
    return 1.0
