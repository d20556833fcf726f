"""`uvicorn web.main:app`: the web app on its own, configured from the environment."""

from logging_setup import configure_logging
from settings import load_settings
from web.app import create_app

configure_logging()
app = create_app(load_settings())
