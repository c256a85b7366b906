"""What a request id is: the ids the service accepts from clients (X-Request-ID), and the ones it makes."""

from __future__ import annotations

import random
import re

# Letters, digits and . _ : -, up to 128 characters; the ids the service makes are 32 hex digits.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    # 128 random bits, as in a uuid4, without a system call: an id must be unique, not secret.
    return f"{random.getrandbits(128):032x}"
