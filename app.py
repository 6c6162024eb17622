"""The advisor in a browser: `streamlit run app.py`. Pages live in ui/; this entry sets the page, draws the
requirements sidebar every page shares, and runs the chosen page."""

import streamlit as st

from advisor.explain import UI as W
from ui import common

st.set_page_config(page_title=W["app_title"], page_icon=":material/memory:", layout="wide")
common.init_state()
page = st.navigation([
    st.Page("ui/recommend.py", title=W["page_recommend"], icon=":material/recommend:", default=True),
    st.Page("ui/why.py", title=W["page_why"], icon=":material/help:"),
    st.Page("ui/compare.py", title=W["page_compare"], icon=":material/compare:"),
    st.Page("ui/catalog.py", title=W["page_catalog"], icon=":material/menu_book:"),
    st.Page("ui/profiles.py", title=W["page_profiles"], icon=":material/speed:"),
])
common.sidebar()
page.run()
