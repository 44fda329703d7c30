"""What a wheel ships: every package-data pattern matches a file, and the migrations are found through the
package (importlib.resources), not through the directory a command runs in. .ci/run builds the wheel and
runs it from an empty directory."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from alembic.script import ScriptDirectory

from recorder.db.migrate import alembic_config, shipped_heads

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_data_pattern_matches_a_file() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for package, patterns in pyproject["tool"]["setuptools"]["package-data"].items():
        directory = ROOT / package.replace(".", "/")
        for pattern in patterns:
            assert list(directory.glob(pattern)), f"{package}: {pattern} matches nothing"


def test_the_migrations_are_found_inside_the_package() -> None:
    shipped = resources.files("recorder.db") / "migrations"
    assert (shipped / "env.py").is_file() and (shipped / "script.py.mako").is_file()
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert Path(script.dir).resolve() == (ROOT / "recorder" / "db" / "migrations").resolve()
    assert shipped_heads() == [script.get_current_head()]


def test_the_developer_alembic_ini_points_at_the_same_migrations() -> None:
    ini = (ROOT / "alembic.ini").read_text()
    assert "script_location = recorder.db:migrations" in ini
    assert not (ROOT / "migrations").exists()


def test_the_api_reference_is_served_from_inside_the_package() -> None:
    from recorder.web.api.docs import ASSETS

    shipped = resources.files("recorder.web.api") / "static" / "vendor" / "redoc"
    assert all((shipped / name).is_file() for name in ASSETS)
    assert "MIT" in (shipped / "LICENSE").read_text()
