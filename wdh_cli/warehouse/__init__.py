"""Warehouse tables corrected in place: `wdh resolve --table` and `wdh rewrite --table`."""
