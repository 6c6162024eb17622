"""The advisor in a browser: `streamlit run app.py`. Pages live in ui/; this entry sets the page, draws the
requirements sidebar every page shares, and runs the chosen page."""

import streamlit as st

from advisor.explain import UI as W
from ui import common

st.set_page_config(page_title=W["app_title"], layout="wide")  # the default icon: a material one loads from the web
common.init_state()
page = st.navigation([
    st.Page("ui/recommend.py", title=W["page_recommend"], default=True),
    st.Page("ui/why.py", title=W["page_why"]),
    st.Page("ui/compare.py", title=W["page_compare"]),
    st.Page("ui/catalog.py", title=W["page_catalog"]),
    st.Page("ui/profiles.py", title=W["page_profiles"]),
])
common.sidebar()
page.run()
