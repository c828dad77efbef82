"""Database access: where the server is, connections, the SQL loader, error translation."""

from wdh_cli.db.database import Database, DatabaseTarget

__all__ = ["Database", "DatabaseTarget"]
