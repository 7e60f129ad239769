"""Smoke test of the shared fixtures."""

from bot.backend import get_backend


def test_backend_fixture_is_the_process_instance(backend, clock):
    assert get_backend() is backend
    assert backend.subscriber("0901000001").full_name == "Nguyễn Văn An"
    assert backend.now() == clock()


def test_pg_url_is_migrated(pg_url):
    from bot.backend.seed import seed
    from bot.backend.service import Backend

    b = Backend(pg_url)
    try:
        assert seed(b).subscribers == 200
        assert b.subscriber("0901000015") is not None
    finally:
        b.dispose()
