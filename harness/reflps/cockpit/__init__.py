"""The reference LPS's cockpit: its own patient store and its own profile evaluation (SQL)."""
