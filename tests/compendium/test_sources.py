"""Sources: the canonical DOI and PMID links first, the address a row was read at kept beside them."""
import numpy as np
import pandas as pd

import helpers as h


def test_sources_link_the_doi_and_pmid_first_and_keep_where_they_were_read():
    assert h.canonical_links("doi:10.1186/s12884-025-07341-5", "25064280.0") == \
        "https://doi.org/10.1186/s12884-025-07341-5; https://pubmed.ncbi.nlm.nih.gov/25064280/"
    assert h.canonical_links(np.nan, "") == h.NO_LINK
    studies = pd.DataFrame({"study_id": ["A", "B"], "doi": ["10.1/a", np.nan], "pmid": [np.nan, np.nan]})
    rows = pd.DataFrame({"study_id": ["A", "B"], "vote": ["positive", "null"],
                         "source": ["47.251.13.51:8081/34668569", "https://cora.ucc.ie/handle/10468/3010"]})
    table = h.with_sources(rows, studies)
    assert list(table.columns) == ["study_id", "vote", "link", "read_at"]
    assert list(table["read_at"]) == list(rows["source"])
    page = h.show(table)._repr_html_()
    assert '<a href="https://doi.org/10.1/a">https://doi.org/10.1/a</a>' in page and "DOI / PMID" in page
    assert "Read at" in page and "47.251.13.51:8081/34668569" in page and 'href="https://cora' not in page
    assert h.NO_LINK in page
