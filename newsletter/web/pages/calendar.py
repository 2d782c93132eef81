"""The Calendar page: a week or a month of scheduled digests and posts per channel."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsletter.core.i18n import translator
from newsletter.pipeline.calendar import PeriodError, calendar_view, parse_period
from newsletter.web.common import blocking, locale, render, signed_in, web_state


async def calendar_page(request: Request) -> Response:
    """`/calendar?week=2025-W13` or `?month=2025-03` (this week by default), in the config's timezone."""
    signed_in(request)
    state = web_state(request)
    now = state.clock()
    try:
        period = parse_period(request.query_params.get("week"), request.query_params.get("month"),
                              now.astimezone(state.config.tz).date())
    except PeriodError as error:
        t = translator(locale(request))
        expected = t("bad_period_" + error.parameter)
        text = t("bad_period", parameter=error.parameter, value=error.value, expected=expected)
        return render(request, "error.html", {"error": text, "back": "/calendar"}, status_code=400)
    view = await blocking(calendar_view, state.config, state.store, period, now)
    return render(request, "calendar.html", {"view": view, "now": now,
                                             "back": f"/calendar?{period.query}"})


routes = [Route("/calendar", calendar_page, methods=["GET"])]
