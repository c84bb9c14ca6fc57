"""The connectathon web application (FastAPI, server-rendered jinja2): `app.create_app`."""
