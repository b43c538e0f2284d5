"""`cnn serve`'s core: a model behind HTTP (Starlette on uvicorn), answering as `cnn predict` does.

    config.py    the limits and knobs, in one commented place (ServeConfig)
    batching.py  the bounded queue of inferences in flight, and adaptive batching (no web types)
    bodies.py    a request body, capped, into image sources (multipart fields or one raw image)
    app.py       the Starlette app: routes, one JSON error shape, the request log, the page
    server.py    uvicorn on a socket we bind ourselves, stopped gracefully by SIGINT/SIGTERM

The model arrives as a `ServedModel`: a `classify` callable (image sources in, one Outcome each out,
in order) with the JSON the CLI builds for it. The core never builds a model or a JSON document of
`cnn predict`/`cnn summary` itself: the CLI hands those over, so there is one home for each.
"""
