"""Page fixtures shared with the web tests (a browser signed in through the login form)."""

from tests.web.conftest import browser  # noqa: F401
