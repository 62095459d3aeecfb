"""Personal-data keys for the production-like (DEBUG off) processes these tests start:
the portal refuses to start without them (docs/personal-data.md). Test-only values."""

import base64
import hashlib

PERSONAL_DATA_ENV = {
    "PERSONAL_DATA_KEYS": "test1:" + base64.b64encode(hashlib.sha256(b"deploy tests key").digest()).decode(),
    "PERSONAL_DATA_HMAC_KEY": base64.b64encode(hashlib.sha256(b"deploy tests hmac key").digest()).decode(),
}
