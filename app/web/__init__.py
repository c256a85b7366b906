"""The human side of the service: the index page and its static files."""
