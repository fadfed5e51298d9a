"""The studio command: edit a .flow file in the browser."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from flowsim._extras import missing
from flowsim.cli._common import guard


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
    help="TCP port (0: any free port).",
)  # fmt: skip
@click.option(
    "--host", default="127.0.0.1", show_default=True,
    help="Interface to listen on (not loopback: the network can reach the file).",
)  # fmt: skip
@click.option("--no-browser", is_flag=True, help="Do not open a browser; just print the URL.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the URL (and errors).")
@guard
def studio(file: str, port: int, host: str, no_browser: bool, quiet: bool) -> None:
    """Edit FILE in the browser: live picture, diagnostics and quick what-ifs (docs/studio.md).

    FILE may not exist yet: the first save creates it.
    """
    try:
        from flowsim.studio.document import Document, DocumentError
        from flowsim.studio.server import LOOPBACK, bind, new_token, serve, url_for
    except ImportError as err:
        raise missing(err, "flowsim studio") from err

    if not Path(file).resolve().parent.is_dir():
        click.echo(f"flowsim: {file}: the folder does not exist", err=True)
        sys.exit(1)
    try:
        Document(file).read()
    except DocumentError as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)
    try:
        sock = bind(host, port)
    except OSError as err:
        reason = err.strerror or str(err)
        click.echo(
            f"flowsim: cannot listen on {host}:{port}: {reason} (--port 0 picks a free port)",
            err=True,
        )
        sys.exit(1)
    token = new_token()
    url = url_for(host, sock.getsockname()[1], token)
    if host not in LOOPBACK and not quiet:
        click.echo(
            f"flowsim: warning: listening on {host}: anyone who can reach this machine and has "
            "the URL can edit the file; the connection is not encrypted",
            err=True,
        )
    click.echo(f"flowsim studio: {url}")
    if not quiet:
        click.echo("Press Ctrl+C to stop.", err=True)
    sys.stdout.flush()
    try:
        serve(file, sock, token, url=url, open_browser=not no_browser)
    except KeyboardInterrupt:  # Ctrl+C is how a server is meant to stop: exit 0, no message
        return
