"""Services behind `wdh db`: health check, backup, restore, grant."""
