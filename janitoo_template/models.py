"""janitoo_template's models: rooms and the sensors placed in them.

``extend`` is the ``janitoo.models`` entry point: janitoo_db calls it once, with
the ``janitoo_db.models`` module, when the models are loaded.
"""
from __future__ import annotations

from types import ModuleType

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from janitoo_db.base import Base


class Room(Base):
    """A room of the house."""

    __tablename__ = "template_rooms"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    floor: Mapped[int] = mapped_column(sa.Integer, default=0)

    sensors: Mapped[list[Sensor]] = relationship(back_populates="room", cascade="all, delete-orphan")


class Sensor(Base):
    """A sensor and its last reading."""

    __tablename__ = "template_sensors"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("template_rooms.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    unit: Mapped[str | None] = mapped_column(sa.String(20))
    last_value: Mapped[float | None] = mapped_column(sa.Float)

    room: Mapped[Room] = relationship(back_populates="sensors")


def extend(jntmodel: ModuleType) -> None:
    """Attach janitoo_template's models to ``janitoo_db.models``."""
    jntmodel.Room = Room
    jntmodel.Sensor = Sensor
