"""The WSGI entry point: `flask --app app run` or `gunicorn app:app`."""

from nudge.web import create_app

app = create_app()
