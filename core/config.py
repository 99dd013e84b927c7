"""Settings: ``config.toml`` validated by pydantic, with secrets also from the environment.

Unknown keys and wrong types are errors, reported as one line naming the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*(s|m|h)?\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, None: 1}
PRIVILEGED_INTENTS = ("members", "message_content", "presences")


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line for the operator."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(Section):
    """``limit`` requests per ``per`` seconds."""

    limit: Annotated[int, Field(ge=1)]
    per: Annotated[float, Field(gt=0)]

    @classmethod
    def parse(cls, text: str) -> RateLimit | None:
        """``"10/60"``, ``"10/1m"``, ``"2/4m"``; ``"off"`` means no limit."""
        if text.strip().lower() == "off":
            return None
        match = RATE.match(text)
        if not match:
            raise ValueError(f"rate limit {text!r} is not of the form N/SECONDS (e.g. '10/60', '2/4m') or 'off'")
        count, amount, unit = match.groups()
        return cls(limit=int(count), per=int(amount) * UNIT_SECONDS[unit])


class DiscordSettings(Section):
    token: str = ""
    intents: list[Literal["members", "message_content", "presences", "voice_states", "guild_messages"]] = Field(
        default_factory=lambda: ["members", "message_content", "voice_states", "guild_messages"]
    )
    sync_commands: Literal["auto", "always", "never"] = "auto"
    owner_ids: list[int] = Field(default_factory=list)
    api_base: str = ""
    gateway_url: str = ""
    global_rate_limit: str = "50/1"
    member_role_rate_limit: str = "10/1"
    rate_limit_margin: Annotated[float, Field(ge=0, le=5)] = 0.05

    @field_validator("global_rate_limit", "member_role_rate_limit")
    @classmethod
    def _rate_parses(cls, value: str) -> str:
        RateLimit.parse(value)
        return value


class ApiSettings(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    public_url: str = ""
    public_reads: bool = False
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    header_timeout: Annotated[float, Field(gt=0, le=300)] = 15.0
    body_timeout: Annotated[float, Field(gt=0, le=300)] = 30.0
    rate_limits: dict[str, str] = Field(default_factory=dict)

    @field_validator("rate_limits")
    @classmethod
    def _rates_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for rule in value.values():
            RateLimit.parse(rule)
        return value

    def rate_limit(self, family: str, route: str | None, default: RateLimit | None) -> RateLimit | None:
        """The limit of ``family.route``, else of ``family``, else the family's default."""
        for key in (f"{family}.{route}" if route else None, family):
            if key and key in self.rate_limits:
                return RateLimit.parse(self.rate_limits[key])
        return default


class StorageSettings(Section):
    path: str = "data/guildhall.sqlite3"
    synchronous: Literal["normal", "full"] = "normal"


class SandboxSettings(Section):
    world: str = ""
    api_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    discord_port: Annotated[int, Field(ge=0, le=65535)] = 8090


class LinkSettings(Section):
    allow_private_targets: bool = False
    max_role_changes: Annotated[int, Field(ge=1)] = 1000
    role_change_always_fullsuccess: bool = False
    discord_call_timeout: Annotated[float, Field(gt=0)] = 2.0
    answer_within: Annotated[float, Field(gt=0)] = 4.5
    concurrency: Annotated[int, Field(ge=1, le=50)] = 8
    website_timeout: Annotated[float, Field(gt=0)] = 10.0


class RuntimeSettings(Section):
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = True


class EconomySettings(Section):
    timezone: str = "UTC"
    rep_cooldown_hours: Annotated[float, Field(gt=0)] = 24
    like_cooldown_hours: Annotated[float, Field(gt=0)] = 24
    leaderboard_public: bool = False
    leaderboard_page_size: Annotated[int, Field(ge=1, le=200)] = 25

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Berlin')") from None
        return value


class ServerstatsSettings(Section):
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 31
    counter_interval: Annotated[float, Field(gt=0)] = 60.0
    renames_per_window: Annotated[int, Field(ge=1)] = 2
    rename_window: Annotated[float, Field(gt=0)] = 600.0
    starboard_emoji: str = "\N{WHITE MEDIUM STAR}"


class PrivacySettings(Section):
    guild_purge_days: Annotated[float, Field(ge=0)] = 30.0
    purge_check_interval: Annotated[float, Field(gt=0)] = 3600.0


class BotListTarget(Section):
    """One bot list Guildhall posts to (``[[botlists.lists]]``)."""

    kind: Literal["botsondiscord", "topgg", "discordbotlist"]
    name: str = ""
    base_url: str = ""
    key: str = ""
    bot_id: int | None = None
    post: list[Literal["guilds", "commands"]] = Field(default_factory=lambda: ["guilds", "commands"])

    @property
    def label(self) -> str:
        return self.name or self.kind


class BotListsSettings(Section):
    lists: list[BotListTarget] = Field(default_factory=list)
    interval: Annotated[float, Field(ge=60)] = 1800.0
    timeout: Annotated[float, Field(gt=0)] = 10.0
    retry_base: Annotated[float, Field(gt=0)] = 30.0
    retry_max: Annotated[float, Field(gt=0)] = 1800.0

    @field_validator("lists")
    @classmethod
    def _names_unique(cls, value: list[BotListTarget]) -> list[BotListTarget]:
        labels = [target.label for target in value]
        if len(set(labels)) != len(labels):
            raise ValueError("two lists share a name: give each [[botlists.lists]] its own name")
        return value


class BotListSettings(Section):
    review_reward: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0
    review_list: str = ""


class VoiceSettings(Section):
    """Voice and text earning; each server may override these with /voice settings."""

    xp_per_minute: Annotated[int, Field(ge=0, le=1_000_000)] = 10
    points_per_minute: Annotated[int, Field(ge=0, le=1_000_000)] = 1
    flush_interval: Annotated[float, Field(gt=0)] = 60.0
    join_grace: Annotated[float, Field(ge=0)] = 0.0
    ignore_muted: bool = True
    ignore_deafened: bool = True
    ignore_suppressed: bool = True
    ignore_afk: bool = True
    ignore_alone: bool = True
    text_xp_min: Annotated[int, Field(ge=0, le=1_000_000)] = 15
    text_xp_max: Annotated[int, Field(ge=0, le=1_000_000)] = 25
    text_cooldown: Annotated[int, Field(ge=0)] = 60
    pray_base: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0
    pray_random: Annotated[int, Field(ge=0, le=1_000_000_000)] = 500
    pray_streak_bonus: Annotated[int, Field(ge=0, le=1_000_000_000)] = 10


class LevelsSettings(Section):
    curve: Literal["mee6", "unochi", "wetbot"] = "mee6"
    text_curve: Literal["mee6", "unochi", "wetbot"] = "mee6"
    level_factor: Annotated[int, Field(ge=0, le=1_000_000)] = 10
    reward_per_level: Annotated[int, Field(ge=0, le=1_000_000_000)] = 10
    announce: Literal["off", "channel", "dm"] = "off"
    keep_level_roles: bool = False


class Settings(Section):
    discord: DiscordSettings = DiscordSettings()
    api: ApiSettings = ApiSettings()
    storage: StorageSettings = StorageSettings()
    sandbox: SandboxSettings = SandboxSettings()
    logging: LoggingSettings = LoggingSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    voice: VoiceSettings = VoiceSettings()
    levels: LevelsSettings = LevelsSettings()
    botlists: BotListsSettings = BotListsSettings()
    botlist: BotListSettings = BotListSettings()
    link: LinkSettings = LinkSettings()
    economy: EconomySettings = EconomySettings()
    serverstats: ServerstatsSettings = ServerstatsSettings()
    privacy: PrivacySettings = PrivacySettings()

    @property
    def has_token(self) -> bool:
        return bool(self.discord.token.strip())


ENVIRONMENT = {
    "DISCORD_TOKEN": ("discord", "token"),
    "GUILDHALL_DB": ("storage", "path"),
    "GUILDHALL_API_HOST": ("api", "host"),
    "GUILDHALL_API_PORT": ("api", "port"),
}


def load_settings(path: str | Path | None, *, environ: dict[str, str] | None = None) -> Settings:
    """Read and validate ``path`` (None: built-in defaults), then apply environment overrides."""
    environ = dict(os.environ if environ is None else environ)
    data: dict[str, dict[str, object]] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"config file {path} cannot be read: {error}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    for variable, (section, key) in ENVIRONMENT.items():
        if environ.get(variable):
            data.setdefault(section, {})[key] = environ[variable]
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_one_line(error, path)) from None


def _one_line(error: ValidationError, path: Path | None) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    source = f"{path}: " if path else ""
    if first["type"] == "extra_forbidden":
        return f"{source}unknown setting '{where}'"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{source}setting '{where}': {first['msg']}{more}"
