"""Lengths of stored text that code outside the database layer checks against.

Each is the one number both a model's column (`Field(max_length=...)`) and a check read, so
they cannot drift apart, and the check need not import the models (SQLAlchemy and every
table) to learn it: `nudge trial validate` checks a definition without the database.
"""

from __future__ import annotations

# message.template: the name of the template each scheduled message is rendered from.
TEMPLATE_NAME = 100
