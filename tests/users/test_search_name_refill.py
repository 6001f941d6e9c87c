"""Users migration 0004: accounts the release before 0003 wrote during its rollout are found again."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.kit.text import normalize
from services.users.accounts import list_customers
from tests.conftest import migrated_to

FILLER = 2400  # correct rows around the broken ones, so they sit in different batches of 1,000


def _insert(conn, rows: list[dict]) -> None:
    """Accounts as the release before 0003 wrote them: a search_name only where one is given."""
    with_fold = [r for r in rows if "search_name" in r]
    without = [r for r in rows if "search_name" not in r]
    columns = "email, password_hash, name, role, created_at, updated_at"
    values = ":email, 'x', :name, 'CUSTOMER', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
    if with_fold:
        conn.execute(text(f"INSERT INTO customers ({columns}, search_name) VALUES ({values}, :search_name)"),
                     with_fold)
    if without:
        conn.execute(text(f"INSERT INTO customers ({columns}) VALUES ({values})"), without)


def _filler(start: int, stop: int) -> list[dict]:
    return [{"email": f"c{i}@example.com", "name": f"Khách {i}", "search_name": f"khach {i}"}
            for i in range(start, stop)]


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_names_the_previous_release_wrote_during_0003s_rollout_are_folded_and_found(dialect, tmp_path):
    with migrated_to("users", "0003", dialect, tmp_path) as (engine, upgrade):
        with engine.begin() as conn:
            # Folded by 0003, then renamed by the old release, which left the old fold.
            _insert(conn, [{"email": "minh@example.com", "name": "Trần Văn Minh",
                            "search_name": "tran van minh"}])
            _insert(conn, _filler(0, 1200))
            # Registered by the old release: search_name is the column's default, ''.
            _insert(conn, [{"email": "lan@example.com", "name": "Nguyễn Thị Lan"}])
            _insert(conn, [{"email": "ha@example.com", "name": "Phạm Thu Hà", "search_name": "pham thu ha"}])
            _insert(conn, _filler(1200, FILLER))
            _insert(conn, [{"email": "hung@example.com", "name": "Đỗ Mạnh Hùng"}])  # the very last row
            conn.execute(text("UPDATE customers SET name = 'Lê Thị Hoa' WHERE email = 'minh@example.com'"))
            blank = conn.execute(text("SELECT count(*) FROM customers WHERE search_name = ''")).scalar_one()
            assert blank == 2

        upgrade()

        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, search_name FROM customers")).all()
        assert len(rows) == FILLER + 4
        assert [row for row in rows if row.search_name != normalize(row.name)] == []

        def found(query: str) -> list[str]:
            with Session(engine) as session:
                customers, total = list_customers(session, query=query, page=1, page_size=50)
            assert total == len(customers)
            return [customer.email for customer in customers]

        assert found("nguyen lan") == ["lan@example.com"]
        assert found("le thi hoa") == ["minh@example.com"]
        assert found("tran minh") == []  # the old fold no longer names her
        assert found("do hung") == ["hung@example.com"]
        assert found("pham ha") == ["ha@example.com"]
