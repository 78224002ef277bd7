"""The Flask extensions the application shares, created unbound as Flask applications do."""
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
login_manager = LoginManager()
