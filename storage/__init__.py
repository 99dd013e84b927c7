"""SQLite state: one connection, numbered migrations, one repository per aggregate."""

from storage.db import DatabaseTooNew, Storage, StorageError
from storage.repositories import (
    ApiKey,
    ApiKeyRepository,
    BotStateRepository,
    DuplicateName,
    GuildLink,
    GuildLinkRepository,
    GuildSettingsRepository,
    Repositories,
)

__all__ = [
    "ApiKey",
    "ApiKeyRepository",
    "BotStateRepository",
    "DatabaseTooNew",
    "DuplicateName",
    "GuildLink",
    "GuildLinkRepository",
    "GuildSettingsRepository",
    "Repositories",
    "Storage",
    "StorageError",
]
