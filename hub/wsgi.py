"""WSGI entry point for gunicorn: `gunicorn 'hub.wsgi:create()'` builds the app from HUB_* env."""
from hub.app import create_app


def create():
    return create_app()
