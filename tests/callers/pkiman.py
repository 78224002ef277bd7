"""A database manager in the form of janitoo_pki's jnt_pkiman: a fork of the original jnt_dbman.

Its read-only commands hand a ``janitoo_db.migrate.Config`` straight to
``alembic.command`` and let Alembic print; the others call the Config's own
methods and print what they return.

Usage: python pkiman.py COMMAND [-u URL] [-r REVISION] [-v]
"""
import argparse

from alembic import command as alcommand

from janitoo_db.migrate import Config


def parser():
    found = argparse.ArgumentParser()
    commands = found.add_subparsers(dest="command", required=True)
    for name in ("version_locations", "initdb", "versiondb", "checkdb", "heads", "branches", "current", "show",
                 "history", "downgrade"):
        command = commands.add_parser(name)
        command.add_argument("-u", "--url", default="sqlite:////tmp/janitoo_pkiman.sqlite")
        command.add_argument("-r", "--revision", default=None)
        command.add_argument("-v", "--verbose", action="store_true")
    return found


def main(argv=None):
    args = parser().parse_args(argv)
    config = Config(url=args.url)
    if args.command == "version_locations":
        print("version_locations = %s" % config.get_main_option("version_locations"))
    elif args.command == "initdb":
        config.initdb()
    elif args.command == "downgrade":
        config.downgrade(revision=args.revision or "base")
    elif args.command == "versiondb":
        print(config.versiondb())
    elif args.command == "checkdb":
        print(config.checkdb())
    elif args.command == "heads":
        alcommand.heads(config, verbose=args.verbose)
    elif args.command == "branches":
        alcommand.branches(config, verbose=args.verbose)
    elif args.command == "current":
        alcommand.current(config, verbose=args.verbose)
    elif args.command == "show":
        alcommand.show(config, args.revision or "heads")
    elif args.command == "history":
        alcommand.history(config, args.revision or ":", verbose=args.verbose)


if __name__ == "__main__":
    main()
