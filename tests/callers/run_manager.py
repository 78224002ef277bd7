"""Drive manager_app against one database, the way the web manager used janitoo_db; print what it saw as JSON.

Usage: python run_manager.py URL

The database is brought up with ``alembic.command.upgrade(janitoo_config(URL),
'heads')``, as the manager's start-up did; everything after goes through
Flask-SQLAlchemy's session and the mixed model classes.
"""
import json
import sys

from alembic import command as alcommand
from flask_login import current_user, login_user, logout_user
from manager_app.app import TestingConfig, create_app
from manager_app.extensions import db, login_manager
from manager_app.management.models import WebSetting, WebSettingGroup
from manager_app.user.models import WebGroup, WebUser

from janitoo_db.helpers import saobject_to_dict
from janitoo_db.migrate import janitoo_config


def main(url):
    alcommand.upgrade(janitoo_config(url), "heads")
    app = create_app(TestingConfig(url, "a test key, not a secret"))
    seen = {}
    with app.app_context():
        admins = WebGroup.query.filter_by(admin=True).first()
        operators = WebGroup(name="Operators", description="Run the servers", power=True)
        operators.save(db)

        admin = WebUser()
        admin.username = "admin"
        admin.password = "correct horse"
        admin.email = "admin@example.org"
        admin.primary_group_id = admins.id
        admin.save(db)
        member = WebUser(username="member", email="member@example.org", password="battery staple",
                         primary_group=WebGroup.query.filter_by(name="User").first())
        member.save(db, groups=[operators])

        found, ok = WebUser.authenticate("admin@example.org", "correct horse")
        seen["authenticate"] = {"right": [getattr(found, "username", None), ok]}
        seen["authenticate"]["wrong"] = WebUser.authenticate("admin", "wrong")[1]
        seen["authenticate"]["unknown"] = list(WebUser.authenticate("nobody", "x"))
        seen["stored_hash_is_not_the_password"] = admin.password != "correct horse"

        loaded = login_manager._user_callback(str(member.id))
        seen["loaded"] = [type(loaded).__name__, loaded.username, loaded.get_id()]
        seen["member_groups"] = [group.name for group in loaded.get_groups()]
        seen["member_permissions"] = loaded.get_permissions()
        seen["admin_permissions"] = admin.permissions

        token = member.make_reset_token()
        seen["reset"] = {"own": list(member.verify_reset_token(token)),
                         "other": list(admin.verify_reset_token(token)),
                         "tampered": list(member.verify_reset_token(token[:-2] + "xx"))}

        seen["ban"] = [member.ban(), member.primary_group.name, member.unban(), member.primary_group.name]

        network = WebSettingGroup(key="network", name="Network", description="How servers talk")
        network.save(db)
        WebSetting(key="broker_port", value=1883, value_type="integer", name="Broker port",
                   description="MQTT port", extra={"min": 1}, settinggroup="network").save(db)
        seen["settings"] = WebSetting.as_dict(from_group="network")
        seen["field_kinds"] = WebSetting.field_kinds(db.session.get(WebSettingGroup, "network"))

        seen["admin_dict_keys"] = sorted(key for key, value in saobject_to_dict(admin).items()
                                         if not isinstance(value, (list, dict)))
        seen["user_group_core_groups"] = [user.username for user in WebGroup.query.filter_by(name="User")
                                         .first().core_groups]

        with app.test_request_context():
            seen["anonymous"] = [type(current_user._get_current_object()).__name__,
                                 current_user.get_permissions()["guest"]]
            login_user(admin)
            seen["logged_in"] = [current_user.username, current_user.is_authenticated]
            logout_user()
        db.session.remove()
        db.engine.dispose()
    print(json.dumps(seen, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
