"""Command line (Typer + Rich): thin commands that call services."""
