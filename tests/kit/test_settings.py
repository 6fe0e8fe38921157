"""Settings: every process reads the same variables and refuses bad ones with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service_kit.settings import SettingsError, load_settings, read_edge_processes
from tests.support.settings import MINIMAL_ENV, SECRET

NO_DOTENV = Path("/nonexistent/.env")


def test_defaults_fill_everything_but_the_secrets() -> None:
    settings = load_settings(MINIMAL_ENV, dotenv_path=NO_DOTENV)
    assert settings.edge_port == 8000
    assert settings.endpoint("upload").address == "127.0.0.1:50051"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert not settings.is_production


@pytest.mark.parametrize("name", ["JWT_SECRET_KEY", "HLS_PROXY_SECRET", "AWS_ACCESS_KEY_ID"])
def test_a_missing_required_setting_is_named(name: str) -> None:
    env = {k: v for k, v in MINIMAL_ENV.items() if k != name}
    with pytest.raises(SettingsError, match=f"^{name} is not set"):
        load_settings(env, dotenv_path=NO_DOTENV)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("EDGE_PORT", "eighty", "expected a port number"),
        ("EDGE_PORT", "70000", "from 1 to 65535"),
        ("DATABASE_URL", "mysql://x/y", "expected a URL starting with"),
        ("REDIS_URL", "localhost:6379", "expected a URL starting with"),
        ("BACKEND_TIMEOUT_SECONDS", "-1", "a positive number"),
        ("JWT_SECRET_KEY", "short", "too short"),
        ("MEDIA_ENV", "staging", "development, production or test"),
        ("TRANSCODE_WORKER_METRICS_PORT", "70000", "a port number from 1 to 65535, or 0 for any free port"),
        ("EDGE_ACCESS_LOG_SAMPLE", "0", "a whole number from 1 (log every request)"),
        ("EDGE_ACCESS_LOG_SAMPLE", "1%", "one access-log line per that many successful playlist requests"),
        ("EDGE_PROCESSES", "0", "a whole number of edge processes from 1 to 64"),
        ("EDGE_PROCESSES", "two", "about one per CPU core"),
    ],
)
def test_a_malformed_setting_says_what_is_expected(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=name) as raised:
        load_settings({**MINIMAL_ENV, name: value}, dotenv_path=NO_DOTENV)
    assert expected in str(raised.value)


def test_the_edge_logs_every_request_in_one_process_unless_told_otherwise() -> None:
    settings = load_settings(MINIMAL_ENV, dotenv_path=NO_DOTENV)
    assert (settings.edge_access_log_sample, settings.edge_processes) == (1, 1)
    tuned = load_settings(
        {**MINIMAL_ENV, "EDGE_ACCESS_LOG_SAMPLE": "100", "EDGE_PROCESSES": "2"}, dotenv_path=NO_DOTENV
    )
    assert (tuned.edge_access_log_sample, tuned.edge_processes) == (100, 2)


def test_edge_processes_alone_is_read_and_refused_as_the_full_settings_do() -> None:
    assert read_edge_processes({}) == 1
    assert read_edge_processes({"EDGE_PROCESSES": "3"}) == 3
    with pytest.raises(SettingsError, match=r"^EDGE_PROCESSES='65' is malformed: expected a whole number"):
        read_edge_processes({"EDGE_PROCESSES": "65"})


def test_each_worker_has_a_metrics_port_and_0_leaves_the_choice_to_the_os() -> None:
    assert load_settings(MINIMAL_ENV, dotenv_path=NO_DOTENV).worker_metrics_ports == {"transcode": 9106, "upload": 9107}
    chosen = load_settings({**MINIMAL_ENV, "UPLOAD_WORKER_METRICS_PORT": "0"}, dotenv_path=NO_DOTENV)
    assert chosen.worker_metrics_ports["upload"] == 0


def test_a_plain_postgresql_url_is_driven_by_psycopg_3() -> None:
    settings = load_settings({**MINIMAL_ENV, "DATABASE_URL": "postgresql://u@db:5432/media"}, dotenv_path=NO_DOTENV)
    assert settings.database_url == "postgresql+psycopg://u@db:5432/media"


def test_the_dotenv_file_fills_gaps_but_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"JWT_SECRET_KEY={'d' * 40}\nEDGE_PORT=9000\n")
    settings = load_settings({**MINIMAL_ENV, "EDGE_PORT": "8100"}, dotenv_path=dotenv)
    assert settings.edge_port == 8100
    assert settings.jwt_secret_key == SECRET
    settings = load_settings({k: v for k, v in MINIMAL_ENV.items() if k != "JWT_SECRET_KEY"}, dotenv_path=dotenv)
    assert settings.jwt_secret_key == "d" * 40


def test_a_service_with_a_missing_secret_stops_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in MINIMAL_ENV.items() if k != "JWT_SECRET_KEY"}
    env["MEDIA_DOTENV"] = str(tmp_path / "absent.env")
    env["PATH"] = "/usr/bin:/bin"
    result = subprocess.run(
        [sys.executable, "-m", "upload_svc"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: JWT_SECRET_KEY is not set: set it in the environment or in .env (see .env.example)"
    ]
