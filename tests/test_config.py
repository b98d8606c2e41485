from bot.config import Settings, Thresholds


def test_precedence_env_over_dotenv_over_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toml = tmp_path / "trolyso.toml"
    toml.write_text('data_dir = "from-toml"\nlexical_scale = 9.0\n[thresholds]\nanswer = 0.8\nclarify = 0.7\n',
                    encoding="utf-8")
    monkeypatch.setenv("TROLYSO_CONFIG", str(toml))
    (tmp_path / ".env").write_text("TROLYSO_DATA_DIR=from-dotenv\nTROLYSO_ADMIN_IDS=1,2\n", encoding="utf-8")
    monkeypatch.setenv("TROLYSO_THRESHOLDS__CLARIFY", "0.6")
    s = Settings()
    assert str(s.data_dir) == "from-dotenv" and s.lexical_scale == 9.0 and s.admin_ids == [1, 2]
    assert (s.thresholds.answer, s.thresholds.clarify) == (0.8, 0.6)
    monkeypatch.setenv("TROLYSO_DATA_DIR", "from-env")
    assert str(Settings().data_dir) == "from-env"


def test_thresholds_ignore_unprefixed_environment(monkeypatch):
    monkeypatch.setenv("ANSWER", "0.01")
    default = Thresholds.model_fields["answer"].default
    assert Thresholds().answer == default and Settings(_env_file=None).thresholds.answer == default != 0.01
