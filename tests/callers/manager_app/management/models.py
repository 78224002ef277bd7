"""Setting groups and settings: janitoo's core models, mixed with ``db.Model``."""
import janitoo_db.models as jnt_models
from manager_app.extensions import db


class WebSettingGroup(jnt_models.SettingGroup, db.Model):
    """The core's setting group, with Flask-SQLAlchemy's ``query``."""


class WebSetting(jnt_models.Setting, db.Model):
    """The core's setting, with the form description the web pages build from it."""

    @classmethod
    def field_kinds(cls, group):
        """Each setting of *group* and the kind of form field its value type asks for."""
        kinds = {"integer": "IntegerField", "float": "FloatField", "string": "StringField",
                 "boolean": "BooleanField", "select": "SelectField"}
        return {setting.key: kinds.get(setting.value_type, "StringField") for setting in group.settings}
