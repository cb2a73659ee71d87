"""Tables and streams as frames: a user's table checked against its schema, the synthetic generators, CSV rows."""
