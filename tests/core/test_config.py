from pathlib import Path

import pytest

from core.config import ConfigError, RateLimit, Settings, load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "config.toml"


def test_the_shipped_config_is_valid_and_equals_the_defaults():
    assert load_settings(SHIPPED, environ={}) == Settings()


def test_every_default_is_documented_in_the_shipped_config():
    text = SHIPPED.read_text()
    for section, model in Settings().model_dump().items():
        assert f"[{section}]" in text
        for key in model:
            assert f"\n{key} = " in text, f"{section}.{key} is not documented in config.toml"


def test_unknown_key_is_one_clear_line(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text("[api]\nprot = 80\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    assert str(error.value) == f"{path}: unknown setting 'api.prot'"


def test_wrong_type_names_the_key(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text('[api]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match=r"setting 'api.port'"):
        load_settings(path, environ={})


def test_missing_file_and_bad_toml(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[api\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_bad_rate_limit_is_refused(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text('[api]\nrate_limits = { economy = "ten per minute" }\n')
    with pytest.raises(ConfigError, match="rate_limits"):
        load_settings(path, environ={})


def test_environment_overrides_secrets(tmp_path: Path):
    settings = load_settings(None, environ={"DISCORD_TOKEN": "abc", "GUILDHALL_DB": str(tmp_path / "x.db")})
    assert settings.discord.token == "abc"
    assert settings.has_token
    assert settings.storage.path == str(tmp_path / "x.db")


@pytest.mark.parametrize(
    ("text", "limit", "per"), [("10/60", 10, 60), ("2/4m", 2, 240), ("10/1h", 10, 3600), (" 5 / 10s ", 5, 10)]
)
def test_rate_limit_forms(text, limit, per):
    assert RateLimit.parse(text) == RateLimit(limit=limit, per=per)


def test_rate_limit_off_and_lookup_order():
    assert RateLimit.parse("off") is None
    settings = Settings.model_validate({"api": {"rate_limits": {"economy": "5/60", "economy.profile": "off"}}})
    default = RateLimit(limit=10, per=60)
    assert settings.api.rate_limit("economy", "profile", default) is None
    assert settings.api.rate_limit("economy", "inventory", default) == RateLimit(limit=5, per=60)
    assert settings.api.rate_limit("voice", None, None) is None
