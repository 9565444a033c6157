"""Email at the CLI: `tandem team rekey` gives a person a new secret reply address."""

from __future__ import annotations

from typing import Any

from adapters import email_identity
from adapters.cli_command import ConfigOption, JsonOption, load_settings, run_admin, words
from adapters.cli_team import PersonOption
from bot.config import Settings
from bot.errors import CommandError, said
from storage.stores import Store


def team_rekey(
    person: PersonOption, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Give a person reached by email a new reply address: replies to older letters are dropped
    (use it when a letter was forwarded, or a mailbox was lost)."""

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        identity = await store.email.identity_of(person)
        if identity is None:
            raise CommandError(said("operator.not_by_email", person=person))
        await email_identity.rekey(store, settings.security.secret_key, identity)
        return {"person_id": person, "address": identity.address}

    def show(r: dict[str, Any]) -> str:
        return words("operator.new_reply_address", address=r["address"])

    run_admin(load_settings(config, makes_codes=True), as_json, work, show)
