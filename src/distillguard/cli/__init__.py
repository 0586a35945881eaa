"""The ``distillguard`` command line: thin Typer commands over the stages."""
