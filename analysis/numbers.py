"""Numbers as people read them, in the GOV.UK content style. Pure.

The style guide's rules for numbers, applied to results: a true minus sign (−, not a hyphen),
"percentage points" for differences of percentages, no needless ".0" ("80%", not "80.0%"),
thousands separated by commas, and money in pounds and pence ("£1.10", "78p", "£1,250").
Sentences round to whole numbers where that is honest; tables keep one decimal place. The
JSON and the CSV keep plain numbers: this module is only for words on pages and in reports.
"""

from __future__ import annotations

MINUS = "\u2212"
DASH = "–"  # a figure that is not available
SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def _trim(text: str) -> str:
    """Drop a needless decimal part: "80.0" → "80", "12.50" stays (money is not trimmed)."""
    return text[:-2] if text.endswith(".0") else text


def signed(text: str) -> str:
    """A number's text with a true minus sign, and "+" kept for positive differences."""
    return MINUS + text[1:] if text.startswith("-") else text


def percent(rate: float | None, places: int = 0) -> str:
    """A rate (0.8185) as a percentage: "82%", or "81.9%" with `places=1`; never "80.0%".

    Whole percentages are the default: a rate among hundreds of people is not known to a tenth
    of a percent. A rate that would round to 0% or 100% without being either says so.
    """
    if rate is None:
        return DASH
    exact = 100 * rate
    if places == 0 and 0 < exact < 0.5:
        return "less than 1%"
    if places == 0 and 99.5 <= exact < 100:
        return "more than 99%"
    value = round(exact, places)
    if value == 0:
        value = 0.0  # never "-0%"
    return signed(_trim(f"{value:.{places}f}")) + "%"


def points(difference: float | None, places: int = 1, *, sign: bool = True) -> str:
    """A difference of rates in percentage points, as a number: "+10.9", "−3.2", "0".

    `sign=False` leaves out the "+" (for a size, such as a threshold); a minus always shows.
    """
    if difference is None:
        return DASH
    value = round(100 * difference, places)
    if value == 0:
        return "0"
    return signed(_trim(f"{value:+.{places}f}" if sign else f"{value:.{places}f}"))


def interval(low: float | None, high: float | None, places: int = 1) -> str:
    """An interval of differences: "+6.7 to +15.2"; a dash when either end is missing."""
    if low is None or high is None:
        return DASH
    return f"{points(low, places)} to {points(high, places)}"


def count(value: object) -> str:
    """A count with thousands separated: "2,345"; a suppressed count as its words."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def money(amount: float | None, currency: str = "GBP") -> str:
    """An amount of money: "£1.10", "78p", "£12", "£1,250"; other currencies by code or sign.

    Pence are shown under £100 where they are not zero, and dropped above (a cost per extra
    attendance of £1,234.56 reads "£1,235"); under £1 an amount is in pence.
    """
    if amount is None:
        return DASH
    sign = MINUS if amount < 0 else ""
    amount = abs(amount)
    symbol = SYMBOLS.get(currency)
    if currency == "GBP" and round(amount, 2) < 1:
        return f"{sign}{round(amount * 100):d}p"
    if round(amount, 2) >= 100:
        text = f"{round(amount):,d}"
    else:
        text = f"{amount:,.2f}"
        if text.endswith(".00"):
            text = text[:-3]
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{currency} {text}"


def p_value(p: float | None) -> str:
    """A p-value for a table: "0.012", "<0.001"."""
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def relative(ratio: float | None) -> str | None:
    """A risk ratio as a relative change in words: 1.149 → "15% higher", 0.8 → "20% lower"."""
    if ratio is None:
        return None
    change = round(100 * (ratio - 1))
    if change == 0:
        return "about the same"
    return f"{abs(change)}% {'higher' if change > 0 else 'lower'}"
