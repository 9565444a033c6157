"""Imported by the drawing pool's fork server, last (`bot.charts.PRELOAD`): it draws one small
chart, so that every worker forked from the server starts with the fonts loaded and
matplotlib's first layouts done (a process's first chart costs several charts' time), once,
at the server's normal priority rather than in each niced worker while pictures wait."""

from __future__ import annotations

from bot.charts import draw_first_chart

draw_first_chart()
