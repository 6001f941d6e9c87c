"""Loading the original catalog (catalog-seed.json) into an empty catalog, exactly once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .admin import DEFAULT_IMAGE, image_exists
from .models import Category, Product, ProductSize
from .search import slugify


class _SeedSize(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: str = Field(min_length=1, max_length=20)
    price: int = Field(ge=1)


class _SeedProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=100)
    description: str = ""
    sizes: list[_SeedSize] = Field(min_length=1)


class SeedFile(BaseModel):
    note: str = ""
    products: list[_SeedProduct] = Field(min_length=1)


@dataclass(frozen=True)
class SeedResult:
    loaded: bool
    categories: int = 0
    products: int = 0
    sizes: int = 0


def read_seed(path: Path) -> SeedFile:
    return SeedFile.model_validate(json.loads(path.read_text(encoding="utf-8")))


def load_seed(session: Session, seed: SeedFile) -> SeedResult:
    """Fill an empty catalog. A catalog that has any category or product is left untouched, so
    running it again never duplicates rows nor overwrites what an admin edited."""
    if session.scalar(select(func.count(Category.id))) or session.scalar(select(func.count(Product.id))):
        return SeedResult(loaded=False)
    categories: dict[str, Category] = {}
    for entry in sorted(seed.products, key=lambda p: p.id):  # seed order gives ids 1..16
        category = categories.get(entry.category)
        if category is None:
            category = categories[entry.category] = Category(name=entry.category,
                                                             slug=slugify(entry.category))
            session.add(category)
        slug = slugify(entry.name)
        image = f"{slug}.svg" if image_exists(f"{slug}.svg") else DEFAULT_IMAGE
        session.add(Product(name=entry.name, slug=slug, description=entry.description,
                            category=category, image=image, active=True,
                            sizes=[ProductSize(label=s.size, price=s.price) for s in entry.sizes]))
    try:
        session.commit()
    except IntegrityError:  # a concurrent seed got there first
        session.rollback()
        return SeedResult(loaded=False)
    return SeedResult(loaded=True, categories=len(categories), products=len(seed.products),
                      sizes=sum(len(p.sizes) for p in seed.products))
