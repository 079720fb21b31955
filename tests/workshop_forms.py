"""What the workshop's web tests share: the test client and the form of a first round."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what the extras install
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

#: A first round's plan as the dashboard's form posts it.
ROUND = {"round": "1", "share_service": "60", "share_complaints": "20", "share_points": "0",
         "share_acquisition": "20", "list_liked": "60", "complaint_order": "liked",
         "promise": "50", "range_update": "100"}

__all__ = ["ROUND", "TestClient"]
