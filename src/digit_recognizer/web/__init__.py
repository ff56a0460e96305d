"""The web app and HTTP API (`digits serve`): a drawing page and POST /api/predict.

Needs the ``web`` extra (FastAPI, uvicorn); nothing else in the package imports it,
so ``import digit_recognizer`` stays light. Start it with ``digits serve`` or, in
tests, build the app in-process with :func:`digit_recognizer.web.server.create_app`.
"""
