from __future__ import annotations

import re

from tests.api.conftest import Platform


async def test_the_api_docs_load_without_internet(platform: Platform) -> None:
    for page in ("/docs", "/redoc"):
        html = (await platform.http.get(page)).text
        external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
        assert external == [], f"{page} loads from outside: {external}"
        assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', html)
        assert assets, html
        for asset in assets:
            assert (await platform.http.get(asset)).status_code == 200, asset
    schema = (await platform.http.get("/openapi.json")).json()
    assert "/v1/demand-batches" in schema["paths"]
