"""The service layer: starting, reading and answering escalations through Temporal, for the
command line (`starter.py`) and the web app alike. One module per concern."""
