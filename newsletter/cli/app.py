"""The Typer application every command module registers on.

Help is plain click text (`rich_markup_mode=None`): rendering it through rich costs more start-up
than the whole command.
"""

import typer

app = typer.Typer(
    name="newsletter",
    help="Turn public-programme announcements into scheduled email digests and social posts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
