"""``create_app``: the application factory, as janitoo_manager's."""
from flask import Flask

from janitoo_db.base import Base
from manager_app.extensions import db, login_manager
from manager_app.user.models import WebGuest, WebUser


class TestingConfig:
    """The configuration a test gives: the database, and the key reset tokens are signed with."""

    def __init__(self, url, secret_key):
        self.SQLALCHEMY_DATABASE_URI = url
        self.SECRET_KEY = secret_key
        self.TESTING = True


def create_app(config):
    """The application, its database session and its login manager."""
    app = Flask("manager_app")
    app.config.from_object(config)
    db.init_app(app)
    # The core's own lookups (Guest, Group.get_guest_group...) go through Base.query, as in janitoo.
    Base.query = db.session.query_property()
    login_manager.anonymous_user = WebGuest

    @login_manager.user_loader
    def load_user(user_id):
        # Flask-Login hands the id over as text: psycopg 3 sends a string as a string, and PostgreSQL will not
        # compare it with an integer column (psycopg2 inlined it, and the server converted it).
        return db.session.query(WebUser).filter(WebUser.id == int(user_id)).first()

    login_manager.init_app(app)
    return app
