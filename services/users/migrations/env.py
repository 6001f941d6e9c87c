from services.kit.db import run_migrations
from services.users.models import Base

run_migrations(Base.metadata)
