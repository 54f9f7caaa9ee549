"""What the pages show: artifact readers, tables, charts, annotated photos, speed figures."""
