"""`uvicorn web.main:app`: the web app on its own, configured from the environment."""

from logging_setup import configure_logging
from settings import Settings
from web.app import create_app

configure_logging()
app = create_app(Settings())
