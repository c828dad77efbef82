"""wdh: stable company IDs for annuity business data, backed by PostgreSQL."""

__version__ = "0.1.0"
