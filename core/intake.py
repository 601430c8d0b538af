"""Builds the worker's Kafka command intake, with the HTTP edge's credential check."""

from __future__ import annotations

from functools import partial

import asyncpg
from aiokafka import AIOKafkaProducer

from commands.claim_extraction import ClaimDecider
from commands.context import EmbedMany
from commands.intake import CommandIntake, Principal, Refused, Verify
from core.auth.api_keys import principal_for_key
from core.auth.authenticator import Authenticator
from core.auth.principal import AuthError
from core.security import jwt_config_from
from kernel.settings import Settings


def credential_verifier(settings: Settings, pool: asyncpg.Pool) -> Verify:
    required = settings.auth.strip().lower() != "disabled"
    authenticator = Authenticator(partial(principal_for_key, pool), jwt_config_from(settings),
                                  required=required)

    async def verify(token: str | None) -> Principal:
        try:
            return await authenticator.authenticate_token(token)
        except AuthError as exc:
            raise Refused(401, exc.code, exc.message) from None

    return verify


def command_intake(settings: Settings, pool: asyncpg.Pool, embed_many: EmbedMany,
                   producer: AIOKafkaProducer, decide: ClaimDecider | None) -> CommandIntake:
    return CommandIntake(
        pool, embed_many, producer, credential_verifier(settings, pool),
        settings.resolved_bootstrap(), settings.commands_topic,
        settings.rejected_commands_topic, settings.events_topic,
        settings.intake_consumer_group, decide)
