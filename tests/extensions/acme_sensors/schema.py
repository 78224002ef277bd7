"""acme_sensors' models: readings owned by a core user."""
from __future__ import annotations

from types import ModuleType

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from janitoo_db.base import Base


class Reading(Base):
    __tablename__ = "acme_readings"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(sa.Integer, sa.ForeignKey("core_users.id"))
    value: Mapped[float] = mapped_column(sa.Float)


def extend(jntmodel: ModuleType) -> None:
    jntmodel.Reading = Reading
