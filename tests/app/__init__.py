"""AppTest tests of the Streamlit workbench (through app.py)."""
