"""Catalog migrations that rewrite rows already there."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import migrated_to

NFD = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731  (accents typed apart)


def _category_and_product(conn, category: str, product: str) -> None:
    """Category 1 holding product 1, written as the earlier schema has them."""
    now = "CURRENT_TIMESTAMP"
    conn.execute(text("INSERT INTO categories (id, name, slug, description, search_name, created_at,"
                      f" updated_at) VALUES (1, :name, 'category', '', 'category', {now}, {now})"),
                 {"name": category})
    conn.execute(text(
        "INSERT INTO products (id, name, slug, description, image, category_id, active, search_name,"
        f" search_description, created_at, updated_at) VALUES (1, :name, 'product', '', 'cake.svg', 1,"
        f" :active, 'product', '', {now}, {now})"), {"name": product, "active": True})


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_names_typed_with_accents_apart_or_doubled_spaces_are_written_one_way_unless_taken(dialect, tmp_path):
    with migrated_to("catalog", "0001", dialect, tmp_path) as (engine, upgrade):
        with engine.begin() as conn:
            _category_and_product(conn, NFD("Bánh Kẹo"), NFD("Chè Đậu"))
            conn.execute(text("INSERT INTO product_sizes (id, product_id, label, price) VALUES"
                              " (1, 1, :composed, 10000), (2, 1, :apart, 20000), (3, 1, :alone, 30000),"
                              " (4, 1, :spaced, 40000)"),
                         {"composed": "Hũ", "apart": NFD("Hũ"), "alone": NFD("Hộp 6 cái"),
                          "spaced": "Túi  10\u00a0cái"})
        upgrade()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM categories")).scalar_one() == "Bánh Kẹo"
            assert conn.execute(text("SELECT name FROM products")).scalar_one() == "Chè Đậu"
            labels = dict(conn.execute(text("SELECT id, label FROM product_sizes")).all())
    # The second Hũ is the duplicate this change prevents: left as it was, for an admin to remove.
    assert labels == {1: "Hũ", 2: NFD("Hũ"), 3: "Hộp 6 cái", 4: "Túi 10 cái"}


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_sizes_become_removable_without_losing_cart_lines(dialect, tmp_path):
    with migrated_to("catalog", "0002", dialect, tmp_path) as (engine, upgrade):
        now = "CURRENT_TIMESTAMP"
        with engine.begin() as conn:
            _category_and_product(conn, "Mousse", "Dâu")
            conn.execute(text("INSERT INTO product_sizes (id, product_id, label, price) VALUES"
                              " (1, 1, '12cm', 90000), (2, 1, '20cm', 160000)"))
            conn.execute(text(f"INSERT INTO carts (id, customer_id, created_at) VALUES (1, 7, {now})"))
            conn.execute(text("INSERT INTO cart_items (id, cart_id, product_id, size_id, quantity,"
                              f" created_at, updated_at) VALUES (1, 1, 1, 2, 3, {now}, {now})"))
        upgrade()
        with engine.begin() as conn:
            assert conn.execute(text("SELECT size_id, quantity FROM cart_items")).all() == [(2, 3)]
            assert conn.execute(text("SELECT count(*) FROM product_sizes WHERE removed_at IS NULL")
                                ).scalar_one() == 2
            conn.execute(text(f"UPDATE product_sizes SET removed_at = {now} WHERE id = 2"))
            # The label is free again among live sizes, and still unique among them.
            conn.execute(text("INSERT INTO product_sizes (id, product_id, label, price) VALUES"
                              " (3, 1, '20cm', 170000)"))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("INSERT INTO product_sizes (id, product_id, label, price) VALUES"
                              " (4, 1, '20cm', 1)"))
        with pytest.raises(IntegrityError), engine.begin() as conn:  # the price check survived
            conn.execute(text("INSERT INTO product_sizes (id, product_id, label, price) VALUES"
                              " (5, 1, 'Lớn', -1)"))
