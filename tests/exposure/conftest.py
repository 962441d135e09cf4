"""The page tests' signed-in browser fixture, for the exposure tests."""

from tests.web.conftest import browser  # noqa: F401
