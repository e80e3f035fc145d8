"""The InBedder explorer: a Streamlit page to cluster your own texts by your own question.

Run it with ``inbedder app`` or ``streamlit run app/explorer.py``. The modules here keep the
page (``explorer``, its controls in ``sidebar``) apart from the logic it calls, so the logic is
testable without a browser:
``loading`` (uploads and the sample), ``pipeline`` (embedding with progress, clustering,
assigning to a saved clustering), ``runs`` (one run with its progress bar, the cached model),
``tree`` and ``tree_view`` (drill-down question trees and their breadcrumbs), ``saved`` and
``saved_view`` (saving, loading, assigning), ``projection`` (the 2-D map), ``figures``
(plotly), ``exports`` (downloads), ``messages`` (wording for the page), ``access`` (which
models and folders a visitor may use) and ``cli`` (the ``inbedder app`` command). Importing this package
is light: nothing here imports torch or streamlit at import time.
"""
