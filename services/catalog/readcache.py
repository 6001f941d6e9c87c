"""Shoppers' catalog reads, kept in each process for a moment.

On a sale day thousands of shoppers read the same few pages, and each read was three queries, a
page of ORM objects turned into JSON and that JSON validated again against the response model
(the product list ran at a few percent of the floor in `make bench`). The catalog already lets
every browser reuse a read for `catalog_cache_seconds` (Cache-Control), so a body at most
`read_cache_seconds` old shows a shopper nothing their own browser would not. Admin writes clear
this process's copy at once; other workers and tasks see them within the TTL. Nothing that is
charged comes from here: orders prices every line with `POST /api/products/prices`, which always
reads the database.
"""

from __future__ import annotations

from flask import current_app

from services.kit.caching import ReadCache


def read_cache() -> ReadCache:
    return current_app.extensions["catalog_read_cache"]
