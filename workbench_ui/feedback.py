"""Turning domain errors into messages: the app never shows a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from workbench.errors import PermissionDenied, StaleWriteError, WorkbenchError

log = logging.getLogger("workbench.app")


@contextmanager
def guard(action: str) -> Iterator[None]:
    """Run a UI action; show a ``WorkbenchError`` as ``st.error`` with what to do, not a traceback.

    Unexpected exceptions are logged with their traceback on the server and shown as a short
    message: the reviewer's input stays in the form (nothing is lost).
    """
    try:
        yield
    except PermissionDenied as exc:
        st.error(f"Not allowed: {exc}", icon=":material/block:")
    except StaleWriteError as exc:
        st.warning(f"{exc} — reload the page to see the newer version, then save again.", icon=":material/sync_problem:")
    except WorkbenchError as exc:
        st.error(f"Could not {action}: {exc}", icon=":material/error:")
    except Exception as exc:  # last line of defence for the UI
        log.exception("unexpected error while trying to %s", action)
        st.error(f"Could not {action}: unexpected {type(exc).__name__}: {exc}. The details are in the server log.",
                 icon=":material/error:")
