"""`newsletter serve` (the review web app) and `newsletter approve ID`."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli.app import app
from newsletter.cli.common import ActorOption, ConfigOption, actor_name, console, load, open_store, reports_errors


@app.command()
@reports_errors
def serve(
    config_path: ConfigOption = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default: review.host, 127.0.0.1).")]
    = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default: review.port, 8080).")] = None,
) -> None:
    """Serve the review pages (upcoming sends, approval, history, archive) and the subscriber pages.

    Review pages need a user signed in (`newsletter users add`); `review.open` is refused off loopback.
    """
    import uvicorn

    from newsletter.web.app import create_app
    from newsletter.web.auth import check_can_serve

    config = load(config_path)
    bind_host = host or config.review.host
    bind_port = port or config.review.port
    check_can_serve(config, bind_host)
    with open_store(config) as store:  # fail now, with a clear message, if the database is unusable
        users = store.users.count_users()
    web_app = create_app(config, lambda: open_store(config))
    console().print(f"Serving on http://{bind_host}:{bind_port} (public URL {config.public_base_url})")
    if not users and not config.review.open:
        console().print("No review users yet: add one with `newsletter users add NAME --role admin`")
    proxies = config.review.trusted_proxies
    uvicorn.run(web_app, host=bind_host, port=bind_port, proxy_headers=bool(proxies),
                forwarded_allow_ips=",".join(proxies) or None, log_level="info")


@app.command()
@reports_errors
def approve(
    target: Annotated[str, typer.Argument(help="A post key (post:…), a digest issue id or a digest name.")],
    config_path: ConfigOption = None,
    actor: ActorOption = None,
) -> None:
    """Approve a post or digest issue awaiting approval, as the review page does (recorded in the log); an
    issue whose time has come is sent at once, a digest name with none waiting approves its next issue."""
    from newsletter.pipeline import actions
    from newsletter.store import utcnow

    config = load(config_path)
    with open_store(config) as store:
        now = utcnow()
        result = actions.approve(config, store, target, actor_name(actor), now)
        console().print(result.summary)
        if result.detail.get("send_now"):
            report = actions.send_now(config, store, result.target, actor_name(actor), now)
            console().print(f"{report.issue_id}: {report.sent} sent, {report.failed} failed, {report.pending} pending")
