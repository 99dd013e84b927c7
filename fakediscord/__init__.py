"""fakediscord: a local stand-in for Discord (REST, gateway, control API) for tests and sandbox mode."""

from .commands import ActionError
from .conformance import check_rest_log, validate_rest_log
from .server import FakeDiscord, Fault, RestCall
from .settle import EventTracker, TrackedCommandTree
from .world import World, WorldError, default_world, load_world

__all__ = [
    "ActionError",
    "EventTracker",
    "FakeDiscord",
    "Fault",
    "RestCall",
    "TrackedCommandTree",
    "World",
    "WorldError",
    "check_rest_log",
    "default_world",
    "load_world",
    "validate_rest_log",
]
