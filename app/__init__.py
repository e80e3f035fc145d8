"""The InBedder explorer: a Streamlit page to cluster your own texts by your own question.

Run it with ``inbedder app`` or ``streamlit run app/explorer.py``. The modules here keep the
page (``explorer``, its controls in ``sidebar``) apart from the logic it calls, so the logic is
testable without a browser:
``loading`` (uploads and the sample), ``pipeline`` (embedding with progress, clustering),
``projection`` (the 2-D map), ``figures`` (plotly), ``exports`` (downloads), ``messages``
(wording for the page), ``access`` (which models a visitor may load) and ``cli`` (the
``inbedder app`` command). Importing this package
is light: nothing here imports torch or streamlit at import time.
"""
