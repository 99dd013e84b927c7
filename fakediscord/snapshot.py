"""The control API's view of the world (``GET /_control/state``, DESIGN §7)."""

from __future__ import annotations

import copy

from .payloads import Json, iso
from .state import DM_TYPE, TEXT_TYPES, Message, State

CHANNEL_KINDS = {0: "text", 2: "voice", 4: "category", 13: "stage"}


def snapshot(store: State) -> Json:
    """The ``/_control/state`` document (DESIGN §7), ids as strings."""
    guilds = []
    for guild in store.guilds.values():
        members = []
        for uid, member in guild.members.items():
            user = store.users[uid]
            voice = guild.voice.get(uid)
            members.append(
                {
                    "id": str(uid),
                    "name": user.name,
                    "nick": member.nick,
                    "bot": user.bot,
                    "roles": [str(r) for r in member.roles],
                    "status": member.status,
                    "dm_open": user.dm_open,
                    "voice": None
                    if voice is None
                    else {
                        "channel_id": str(voice.channel_id),
                        "self_mute": voice.self_mute,
                        "self_deaf": voice.self_deaf,
                        "mute": voice.mute,
                        "deaf": voice.deaf,
                        "suppress": voice.suppress,
                        "self_stream": voice.self_stream,
                    },
                }
            )
        channels = store.guild_channels(guild)
        guilds.append(
            {
                "id": str(guild.id),
                "name": guild.name,
                "owner_id": str(guild.owner_id),
                "afk_channel_id": str(guild.afk_channel_id) if guild.afk_channel_id else None,
                "premium_subscription_count": guild.premium_subscription_count,
                "roles": [
                    {
                        "id": str(r.id),
                        "name": r.name,
                        "position": r.position,
                        "permissions": str(r.permissions),
                        "managed": r.managed,
                    }
                    for r in sorted(guild.roles.values(), key=lambda r: r.position)
                ],
                "channels": [
                    {
                        "id": str(c.id),
                        "name": c.name,
                        "type": CHANNEL_KINDS.get(c.type, str(c.type)),
                        "parent_id": str(c.parent_id) if c.parent_id else None,
                        "nsfw": c.nsfw,
                        "topic": c.topic,
                    }
                    for c in channels
                ],
                "members": members,
                "messages": {
                    str(c.id): [_message_state(m) for m in store.listed_messages(c.id)]
                    for c in channels
                    if c.type in TEXT_TYPES
                },
            }
        )
    dms = {
        str(uid): [_message_state(m) for m in store.listed_messages(cid)]
        for uid, cid in store.dm_channels.items()
        if store.channels[cid].type == DM_TYPE
    }
    return {
        "guilds": guilds,
        "dms": dms,
        "commands": {
            "global": [c["name"] for c in store.global_commands],
            "guilds": {str(g): [c["name"] for c in cmds] for g, cmds in store.guild_commands.items()},
            "syncs": store.command_syncs,
        },
    }


def _message_state(message: Message) -> Json:
    return {
        "id": str(message.id),
        "author_id": str(message.author_id),
        "content": message.content,
        "embeds": copy.deepcopy(message.embeds),
        "attachments": [
            {"id": str(a.id), "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
        "components": copy.deepcopy(message.components),
        "reactions": [
            {"emoji": key, "count": len(users), "users": [str(u) for u in users]}
            for key, users in message.reactions.items()
        ],
        "timestamp": iso(message.timestamp),
        "edited": message.edited_timestamp is not None,
    }
