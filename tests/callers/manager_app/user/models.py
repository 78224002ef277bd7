"""Users, groups and the anonymous visitor: janitoo's core models, mixed with ``db.Model``."""
from flask_login import AnonymousUserMixin, UserMixin

import janitoo_db.models as jnt_models
from manager_app.extensions import db


class WebGroup(jnt_models.Group, db.Model):
    """The core's group, with Flask-SQLAlchemy's ``query``."""


class WebUser(jnt_models.User, UserMixin, db.Model):
    """The core's user, loggable in by Flask-Login."""

    def get_groups(self):
        # The manager cached these; calling the core's method by name is what matters here.
        return jnt_models.User.get_groups(self)

    def get_permissions(self, exclude=None):
        return jnt_models.User.get_permissions(self, exclude)


class WebGuest(AnonymousUserMixin):
    """A visitor who has not logged in: the guest group's permissions."""

    def get_permissions(self, exclude=None):
        return jnt_models.Guest.get_permissions(self, exclude)
