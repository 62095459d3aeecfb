"""The keyring and HMACs of personal data at rest, and their settings."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zhoukou_grid.core import crypto

ROOT = Path(__file__).resolve().parents[2]


def key_text(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


def test_a_token_names_its_key_and_hides_the_value():
    ring = crypto.Keyring(crypto.parse_keys(key_text("k1")))
    token = ring.encrypt("411627196503253526", purpose="id_number")
    assert token.startswith("k1:") and "411627196503253526" not in token and len(token) <= 100
    assert ring.encrypt("411627196503253526", purpose="id_number") != token  # a random nonce each time
    assert ring.decrypt(token, purpose="id_number") == "411627196503253526"


def test_a_new_current_key_still_decrypts_the_old_tokens_and_a_removed_key_does_not():
    k1, k2 = crypto.parse_keys(key_text("k1"))[0], crypto.parse_keys(key_text("k2"))[0]
    token = crypto.Keyring([k1]).encrypt("13800000001", purpose="phone")
    ring = crypto.Keyring([k2, k1])
    assert ring.current_kid == "k2" and ring.decrypt(token, purpose="phone") == "13800000001"
    assert not ring.is_current(token) and ring.is_current(ring.encrypt("13800000001", purpose="phone"))
    with pytest.raises(crypto.UndecryptableValue):
        crypto.Keyring([k2]).decrypt(token, purpose="phone")


def test_a_token_does_not_decrypt_as_another_field_or_when_tampered_with():
    ring = crypto.Keyring(crypto.parse_keys(key_text("k1")))
    token = ring.encrypt("13800000001", purpose="phone")
    with pytest.raises(crypto.UndecryptableValue):
        ring.decrypt(token, purpose="id_number")
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(crypto.UndecryptableValue):
        ring.decrypt(tampered, purpose="phone")
    assert ring.encrypt("", purpose="phone") == "" and ring.decrypt("", purpose="phone") == ""


def test_hmacs_are_keyed_and_separated_by_field():
    key, other = os.urandom(32), os.urandom(32)
    value = "13800000001"
    assert crypto.hmac_digest(key, value, purpose="phone") == crypto.hmac_digest(key, value, purpose="phone")
    assert crypto.hmac_digest(key, value, purpose="phone") != crypto.hmac_digest(other, value, purpose="phone")
    assert crypto.hmac_digest(key, value, purpose="phone") != crypto.hmac_digest(key, value, purpose="id_number")
    assert len(crypto.hmac_digest(key, value, purpose="phone")) == 43 and crypto.hmac_digest(key, "", purpose="x") == ""


@pytest.mark.parametrize(("text", "message"), [
    ("", "holds no key"),
    ("nokid", "id:base64key"),
    ("k1:" + base64.b64encode(b"short").decode(), "must have 32"),
    ("k1:!!!", "not valid base64"),
    ("k1:" + base64.b64encode(bytes(32)).decode() + ",k1:" + base64.b64encode(bytes(range(32))).decode(),
     "appears twice"),
])
def test_bad_key_settings_are_refused_with_a_clear_message(text, message):
    with pytest.raises(crypto.KeyConfigError, match=message):
        crypto.parse_keys(text)


def test_keys_are_required_when_debug_is_off_and_fixed_dev_keys_serve_debug_and_tests():
    with pytest.raises(crypto.KeyConfigError, match="PERSONAL_DATA_KEYS and PERSONAL_DATA_HMAC_KEY must be set"):
        crypto.settings_keys({}, insecure_defaults=False)
    keys, hmac_key, previous = crypto.settings_keys({}, insecure_defaults=True)
    assert keys[0][0] == "dev1" and len(hmac_key) == 32 and previous is None
    environ = {"PERSONAL_DATA_KEYS": f"{key_text('a')},{key_text('b')}",
               "PERSONAL_DATA_HMAC_KEY": base64.b64encode(os.urandom(32)).decode(),
               "PERSONAL_DATA_HMAC_KEY_PREVIOUS": base64.b64encode(os.urandom(48)).decode()}
    keys, hmac_key, previous = crypto.settings_keys(environ, insecure_defaults=False)
    assert [kid for kid, _key in keys] == ["a", "b"] and len(previous) == 48
    with pytest.raises(crypto.KeyConfigError, match="at least 32"):
        crypto.settings_keys({**environ, "PERSONAL_DATA_HMAC_KEY": base64.b64encode(b"x" * 8).decode()},
                             insecure_defaults=False)


def test_the_portal_does_not_start_without_keys_when_debug_is_off():
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("PERSONAL_DATA_") and key not in ("DEBUG", "ZG_TESTING")}
    environ.update({"SECRET_KEY": "x" * 50, "DJANGO_SETTINGS_MODULE": "zhoukou_grid.settings"})
    completed = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=environ,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode != 0
    assert "ImproperlyConfigured" in completed.stderr and "PERSONAL_DATA_KEYS" in completed.stderr
