"""Pages of a long list (message log, replies, audit log): how many, and which one to show."""

from __future__ import annotations

PER_PAGE = 50


def page_window(total: int, page: int, per_page: int = PER_PAGE) -> tuple[int, int, int]:
    """`(pages, page, offset)` for `total` rows: at least one page, and a page asked for
    beyond either end shows the nearest one rather than nothing."""
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    return pages, page, (page - 1) * per_page
