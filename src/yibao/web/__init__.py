"""HTTP adapters: the FastAPI application."""
