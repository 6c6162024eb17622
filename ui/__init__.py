"""The Streamlit pages of `app.py`: widgets and calls to the functions the CLI calls (advisor.api,
advisor.report, advisor.figures); the words come from advisor.explain."""
