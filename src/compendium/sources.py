"""Sources a reader can follow: each extracted row's study by its canonical addresses (DOI and PMID from
``studies.csv``), with the address the row was read at (a mirror, a library proxy, a repository) kept
beside it, never dropped. The report makes the canonical links clickable
(:func:`compendium.display.table_html`).
"""
from __future__ import annotations

import math
import re

import pandas as pd

CANONICAL = re.compile(r"https://(?:doi\.org|pubmed\.ncbi\.nlm\.nih\.gov)/[^\s;<]+")  # links a reader can follow
NO_LINK = "no DOI or PMID in the sheet"


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA or (isinstance(x, str) and not x.strip())


def canonical_links(doi, pmid) -> str:
    """The canonical addresses of a study: ``https://doi.org/<doi>`` and
    ``https://pubmed.ncbi.nlm.nih.gov/<pmid>/`` (either may be missing), "; "-joined; :data:`NO_LINK`
    when the sheet has neither."""
    links = []
    doi = "" if _missing(doi) else re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", str(doi).strip(), flags=re.I)
    pmid = "" if _missing(pmid) else re.sub(r"\.0$", "", str(pmid).strip())
    if doi:
        links.append(f"https://doi.org/{doi}")
    if pmid.isdigit():
        links.append(f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/")
    return "; ".join(links) or NO_LINK


def with_sources(table: pd.DataFrame, studies: pd.DataFrame, study_column: str = "study_id") -> pd.DataFrame:
    """``table`` with each row's canonical link first (``link``: the DOI and PMID of its study in the
    ``studies`` sheet, see :func:`canonical_links`) and the address it was read at kept beside it
    (``read_at``: the row's ``source``, a mirror, proxy or repository, never dropped). The report
    makes the canonical links clickable (:func:`compendium.display.table_html`)."""
    ids = studies.set_index("study_id")
    links = [canonical_links(ids["doi"].get(s) if "doi" in ids else None, ids["pmid"].get(s) if "pmid" in ids else None)
             for s in table[study_column]]
    out = table.drop(columns=["source"], errors="ignore").assign(link=links)
    if "source" in table:
        out["read_at"] = table["source"].to_numpy()
    return out
