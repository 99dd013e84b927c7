"""The OpenAPI conformance checker itself: it finds real mistakes and maps paths correctly."""

from __future__ import annotations

from fakediscord import RestCall, check_rest_log, validate_rest_log

from .conftest import SPEC

USER = {
    "id": "1179000000000000102",
    "username": "bram",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "primary_guild": None,
    "public_flags": 0,
    "flags": 0,
}


def entry(
    method: str, path: str, status: int, response: object, content_type: str | None = "application/json"
) -> RestCall:
    return RestCall(method, path, {}, None, status, response, content_type, 0.0)


def test_a_conforming_user_passes_and_literal_paths_win() -> None:
    report = check_rest_log([entry("GET", "/users/1179000000000000102", 200, USER)], SPEC)
    assert report.errors == [] and report.operations == {("GET", "/users/{user_id}")}
    me = check_rest_log([entry("GET", "/users/@me", 200, USER)], SPEC)
    assert me.operations == {("GET", "/users/@me")}
    assert any("mfa_enabled" in e for e in me.errors)  # @me is a UserPIIResponse, not a UserResponse


def test_mistakes_are_reported() -> None:
    wrong = [
        entry("GET", "/users/1", 200, {k: v for k, v in USER.items() if k != "username"}),
        entry("GET", "/users/1", 200, USER | {"id": 1}),
        entry("GET", "/users/1", 200, USER, content_type="application/json; charset=utf-8"),
        entry("PUT", "/guilds/1/members/2/roles/3", 204, {"unexpected": True}),
        entry("GET", "/users/1", 404, {"message": "Unknown User"}),
    ]
    errors = validate_rest_log(wrong, SPEC)
    assert len(errors) == 5
    assert "'username' is a required property" in errors[0]
    assert "charset" in errors[2]


def test_error_bodies_use_the_4xx_schema_and_unknown_statuses_are_skipped() -> None:
    report = check_rest_log(
        [
            entry("GET", "/users/1", 404, {"message": "Unknown User", "code": 10013}),
            entry(
                "POST", "/channels/1/messages", 429, {"message": "slow", "code": 0, "retry_after": 1.5, "global": False}
            ),
            entry("POST", "/channels/1/messages", 503, {"message": "down", "code": 0}),
            entry("GET", "/not/in/the/spec", 200, {}),
        ],
        SPEC,
    )
    assert report.errors == []
    assert report.validated == {("GET", "/users/{user_id}", "404"), ("POST", "/channels/{channel_id}/messages", "429")}
    assert len(report.skipped) == 2
