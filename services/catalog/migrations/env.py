from services.catalog.models import Base
from services.kit.db import run_migrations

run_migrations(Base.metadata)
