"""slack-manifest.yaml asks for what the adapter uses, and no more.

The scopes are checked against the Web API methods the adapter really calls (recorded by the
fake Slack in a session that does everything Tandem does on Slack) and the scopes the spec
says each method needs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from adapters.slack import COMMAND
from tests.adapters.fake_slack import (
    ADDITIONS_FILE,
    APP_TOKEN_METHODS,
    SlackApiSpec,
    SlackUser,
    slack_world,
)
from tests.conftest import DemoSchool

MANIFEST = Path(__file__).resolve().parents[2] / "slack-manifest.yaml"
# What each subscription needs, from Slack's event and command documentation.
EVENT_SCOPES = {"message.im": "im:history", "app_mention": "app_mentions:read"}
COMMAND_SCOPE = "commands"

TEACHER = SlackUser("U0ORTIZ001", "Ana Ortiz")


def read_yaml(text: str) -> Any:
    """The small part of YAML the manifest uses: maps, lists, scalars, folded text."""
    lines = [
        (len(line) - len(line.lstrip()), line.strip())
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    value, _ = _block(lines, 0, lines[0][0])
    return value


def _block(lines: list[tuple[int, str]], at: int, indent: int) -> tuple[Any, int]:
    if lines[at][1].startswith("- "):
        items: list[Any] = []
        while at < len(lines) and lines[at][0] == indent and lines[at][1].startswith("- "):
            rest = lines[at][1][2:]
            if re.match(r"[\w.-]+:(\s|$)", rest):
                # A map as a list item: its first key sits on the dash's line.
                lines[at] = (indent + 2, rest)
                item, at = _block(lines, at, indent + 2)
            else:
                item, at = _scalar(rest), at + 1
            items.append(item)
        return items, at
    mapping: dict[str, Any] = {}
    while at < len(lines) and lines[at][0] == indent:
        key, _, rest = lines[at][1].partition(": ")
        key, rest = key.removesuffix(":"), rest.strip()
        at += 1
        if rest in (">-", ">", "|"):
            while at < len(lines) and lines[at][0] > indent:
                at += 1
            mapping[key] = "(text)"
        elif rest:
            mapping[key] = _scalar(rest)
        elif at < len(lines) and lines[at][0] > indent:
            mapping[key], at = _block(lines, at, lines[at][0])
        else:
            mapping[key] = None
    return mapping, at


def _scalar(text: str) -> Any:
    text = re.sub(r"\s+#.*$", "", text) if not text.startswith('"') else text
    if text in ("true", "false"):
        return text == "true"
    return text.strip('"')


def manifest() -> Any:
    return read_yaml(MANIFEST.read_text(encoding="utf-8"))


def test_the_manifest_subscribes_to_what_the_adapter_listens_for() -> None:
    settings = manifest()["settings"]

    assert sorted(settings["event_subscriptions"]["bot_events"]) == ["app_mention", "message.im"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    [command] = manifest()["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["should_escape"] is False


def test_the_manifest_turns_on_the_messages_tab() -> None:
    app_home = manifest()["features"]["app_home"]

    assert app_home["messages_tab_enabled"] is True
    assert app_home["messages_tab_read_only_enabled"] is False


async def test_the_scopes_are_what_the_calls_need_and_no_more(
    school: DemoSchool, specs_dir: Path
) -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    spec_scopes = _method_scopes(specs_dir)
    async with slack_world(school, specs_dir, "socket") as slack:
        slack.fake.add_user(TEACHER)
        # Everything Tandem does on Slack: join, log, press, slash command, mention, send.
        await slack.join(TEACHER, "Sam", "teacher")
        logged = (await slack.send(TEACHER, "+ Sam read a page")).reply()
        await slack.press(TEACHER, logged, "Undo")
        await slack.slash(TEACHER, "log Sam")
        await slack.deliver(slack.payloads.mention(TEACHER, "hi", "C0STAFFROOM"))
        await slack.send(TEACHER, "+ Sam read 6/10 words #reading")
        await slack.send(TEACHER, "/progress Sam")  # a chart: the two-step file upload
        called = {call.method for call in slack.fake.calls} - {"response_url"}

    needed = {COMMAND_SCOPE, *EVENT_SCOPES.values()}
    for method in sorted(called - APP_TOKEN_METHODS):
        allowed = spec_scopes[method]
        if allowed == ["none"]:
            continue
        covering = [scope for scope in scopes if any(_covers(scope, a) for a in allowed)]
        assert covering, f"{method} needs one of {allowed}; the manifest has none"
        needed.update(covering)
    assert scopes == needed, f"not needed: {scopes - needed}"


def _method_scopes(specs_dir: Path) -> dict[str, list[str]]:
    data = json.loads((specs_dir / "slack-web-api.openapi.json").read_text(encoding="utf-8"))
    assert SlackApiSpec(data).methods  # the same spec the fake checks calls against
    additions = json.loads((specs_dir / ADDITIONS_FILE).read_text(encoding="utf-8"))
    return {
        path.lstrip("/"): [s for sec in op.get("security", []) for s in sec.get("slackAuth", [])]
        for path, ops in data["paths"].items()
        for op in ops.values()
    } | {name: method["scopes"]["bot"] for name, method in additions["methods"].items()}


def _covers(granted: str, listed: str) -> bool:
    # The 2021 spec still names the old bot scopes: `chat:write:bot` is today's `chat:write`.
    return listed == granted or listed.startswith(f"{granted}:")
