import pytest

from services.kit.config import ServiceConfig
from tests.kit.sample_app import Base, create_app


@pytest.fixture
def make_app(tokens, tmp_path, events_file):
    def make(**overrides):
        settings = {"service_name": "sample", "environment": "test",
                    "database_url": f"sqlite:///{tmp_path / 'sample.db'}",
                    "jwt_public_key": tokens.public_pem,
                    "event_log_file": str(events_file)}
        settings.update(overrides)
        app = create_app(ServiceConfig(**settings))
        return app
    return make


@pytest.fixture(scope="session")
def _sample_schema(database_url):
    from sqlalchemy import create_engine

    from services.kit.config import ServiceConfig as Cfg
    engine = create_engine(Cfg(database_url=database_url).sqlalchemy_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return database_url


@pytest.fixture
def app(make_app, _sample_schema):
    return make_app(database_url=_sample_schema)
