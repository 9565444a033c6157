"""One module per conversation, each with `register(router)`; the composition root
(adapters/bootstrap.py) lists them and mounts them on the dispatcher's router."""
