"""Browser end-to-end tests (real Streamlit server, Debian chromium via Playwright)."""
