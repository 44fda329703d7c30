"""While the database refuses connections the API answers 503 with Retry-After, never a 500; once it is back,
the same requests succeed and nothing was lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from recorder.db.migrate import upgrade
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.integration.compliance_world import A, World, make_world

pytestmark = pytest.mark.postgres


@pytest.fixture
def outage(postgres_server: str) -> Iterator[tuple[World, str]]:
    url, name = fresh_postgres_database(postgres_server)
    upgrade(url)
    try:
        for world in make_world(url):
            yield world, name
    finally:
        set_accepting(postgres_server, name, True)
        drop_postgres_database(postgres_server, name)


def set_accepting(admin_url: str, name: str, accepting: bool) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(accepting).lower()}'))
        if not accepting:  # and cut the pooled connections the service already holds
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": name},
            )
    admin.dispose()


def test_an_unreachable_database_is_a_503_to_retry_and_the_data_is_there_after(
    outage: tuple[World, str], postgres_server: str
) -> None:
    world, name = outage
    before = world.get("/api/consents", participant=A)
    assert before.status_code == 200
    set_accepting(postgres_server, name, False)
    for _ in range(3):  # the pool's dead connections first, then refused new ones
        down = world.get("/api/consents", participant=A)
        assert down.status_code == 503, down.text
        assert down.headers["Retry-After"] == "1"
        assert down.json()["error"]["code"] == "database_unavailable"
    set_accepting(postgres_server, name, True)
    after = world.get("/api/consents", participant=A)
    assert after.status_code == 200
    assert after.json() == before.json()
