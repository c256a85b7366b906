"""KServe's own v2 client (``InferenceRESTClient``) against a running service, once.

    .venv/bin/tox -e run                                  # in one terminal
    .venv/bin/tox -e kserve -- http://127.0.0.1:8001      # in another

kserve pins pandas 2 (the service uses pandas 3) and weighs about 450 MB, so it has an
environment of its own and is not part of the test suite; tritonclient, light, is
(tests/test_v2_clients.py). Exits non-zero if any answer is not the expected one.
"""

from __future__ import annotations

import asyncio
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

CARS = {
    "buying": ["low", "vhigh"],
    "maint": ["low", "med"],
    "doors": ["4", "2"],
    "persons": ["more", "2"],
    "lug_boot": ["big", "small"],
    "safety": ["high", "low"],
}
EXPECTED = [["vgood"], ["unacc"]]


async def session(base_url: str) -> None:
    client = InferenceRESTClient(RESTConfig(protocol="v2"))
    try:
        assert await client.is_server_live(base_url)
        assert await client.is_server_ready(base_url)
        assert await client.is_model_ready(base_url, "car-evaluation")
        inputs = []
        for name, values in CARS.items():
            tensor = InferInput(name=name, shape=[len(values), 1], datatype="BYTES")
            tensor.set_data_from_numpy(np.array(values, dtype=object).reshape(-1, 1), binary_data=False)
            inputs.append(tensor)
        request = InferRequest(model_name="car-evaluation", infer_inputs=inputs, request_id="kserve-1")
        response = await client.infer(base_url, request, model_name="car-evaluation")
        outputs = {output.name: output.as_numpy().tolist() for output in response.outputs}
        print(f"live, ready, model ready; id {response.id}; {outputs}")
        assert response.id == "kserve-1"
        assert outputs["predict"] == EXPECTED, outputs
        assert [row.index(max(row)) for row in outputs["predict_proba"]] == [3, 0], outputs
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(session(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8001"))
