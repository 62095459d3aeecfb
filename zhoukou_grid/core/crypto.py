"""Personal data at rest: AES-256-GCM tokens under a keyring, and keyed HMACs for lookups.

ID and phone numbers are stored as tokens `<key id>:<base64url(nonce | ciphertext | tag)>`
with a random 96-bit nonce per value, so the same number encrypts differently every time
and cannot be searched or made unique. Beside each token the model keeps an HMAC-SHA256
of the normalised value under a separate key (a "blind index"): equal numbers give equal
HMACs, which the resident match key, duplicate detection and unique constraints use.
An unkeyed hash of an ID number would be brute-forced in minutes (about 10^11 candidates).

Keys come from the environment (settings `PERSONAL_DATA_KEYS`, `PERSONAL_DATA_HMAC_KEY`,
`PERSONAL_DATA_HMAC_KEY_PREVIOUS`), never from the database and never `SECRET_KEY`. The
first encryption key is current; the others only decrypt, so keys can be rotated
(`manage.py rotate_personal_data_keys`, docs/personal-data.md).

The parsing and the `Keyring` need no Django; `keyring()` and `blind_index()` read the
settings (cached, cleared when a test overrides them). Nothing here logs a value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
MIN_HMAC_KEY_BYTES = 32
_KID_RE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")

# Fixed keys for DEBUG and tests only: anyone can read them here. Never in production
# (settings refuse to start without real keys when DEBUG is off).
DEV_KEYS = "dev1:" + base64.b64encode(hashlib.sha256(b"zhoukou-grid INSECURE dev personal data key").digest()).decode()
DEV_HMAC_KEY = base64.b64encode(hashlib.sha256(b"zhoukou-grid INSECURE dev personal data hmac key").digest()).decode()


class KeyConfigError(ValueError):
    """A key setting that cannot be used (the message names the setting, never the key)."""


class UndecryptableValue(ValueError):
    """A token whose key id is not in the keyring, or that fails authentication."""


def _b64decode(text: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError("not valid base64") from None


def parse_keys(text: str, *, setting: str = "PERSONAL_DATA_KEYS") -> list[tuple[str, bytes]]:
    """`"kid:base64key,kid2:base64key"` -> [(kid, 32-byte key), ...], first = current."""
    keys: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        kid = kid.strip()
        if not sep or not _KID_RE.match(kid):
            raise KeyConfigError(f"{setting}: each key is written id:base64key, the id 1 to 16 letters, digits, "
                                 f"'-' or '_' (e.g. 2027a:…)")
        try:
            key = _b64decode(encoded)
        except KeyConfigError:
            raise KeyConfigError(f"{setting}: the key {kid} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyConfigError(f"{setting}: the key {kid} has {len(key)} bytes; it must have {KEY_BYTES} "
                                 f"(base64 of 32 random bytes)")
        if any(kid == other for other, _key in keys):
            raise KeyConfigError(f"{setting}: the key id {kid} appears twice")
        keys.append((kid, key))
    if not keys:
        raise KeyConfigError(f"{setting} holds no key")
    return keys


def parse_hmac_key(text: str, *, setting: str = "PERSONAL_DATA_HMAC_KEY") -> bytes:
    try:
        key = _b64decode(text)
    except KeyConfigError:
        raise KeyConfigError(f"{setting} is not valid base64") from None
    if len(key) < MIN_HMAC_KEY_BYTES:
        raise KeyConfigError(f"{setting} has {len(key)} bytes; it needs at least {MIN_HMAC_KEY_BYTES}")
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Keyring:
    """Encryption keys by id; the first encrypts, all decrypt (a MultiFernet with AES-GCM).

    `purpose` (the field name) is authenticated with each value, so a token copied from
    one field to another does not decrypt.
    """

    def __init__(self, keys: list[tuple[str, bytes]]):
        if not keys:
            raise KeyConfigError("a keyring needs at least one key")
        self.current_kid = keys[0][0]
        self._ciphers = {kid: AESGCM(key) for kid, key in keys}
        self._current = self._ciphers[self.current_kid]
        self._prefix = self.current_kid + ":"

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def encrypt(self, plaintext: str, *, purpose: str) -> str:
        """A token for `plaintext` under the current key; "" stays ""."""
        if not plaintext:
            return ""
        nonce = os.urandom(NONCE_BYTES)
        return self._prefix + _b64url(nonce + self._current.encrypt(nonce, plaintext.encode(), purpose.encode()))

    def decrypt(self, token: str, *, purpose: str) -> str:
        if not token:
            return ""
        kid, sep, body = token.partition(":")
        cipher = self._ciphers.get(kid)
        if not sep or cipher is None:
            raise UndecryptableValue(f"no key {kid!r} in the keyring")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()).decode()
        except InvalidTag:
            raise UndecryptableValue(f"the value does not authenticate under key {kid!r}") from None

    def is_current(self, token: str) -> bool:
        """Whether a token is empty or already under the current key (rotation skips it)."""
        return not token or token.startswith(self._prefix)

    @staticmethod
    def key_id(token: str) -> str:
        return token.partition(":")[0] if token else ""


def hmac_digest(key: bytes, value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of a normalised value as unpadded base64url (43 characters: shorter
    than hex in every row, key and index); "" stays "". The purpose separates the HMACs
    of different fields."""
    if not value:
        return ""
    return _b64url(hmac.digest(key, f"{purpose}\x00{value}".encode(), "sha256"))


# --- Django side ----------------------------------------------------------------------

@cache
def keyring() -> Keyring:
    from django.conf import settings

    return Keyring(settings.PERSONAL_DATA_KEYS)


@cache
def _hmac_key(previous: bool = False) -> bytes | None:
    from django.conf import settings

    return settings.PERSONAL_DATA_HMAC_KEY_PREVIOUS if previous else settings.PERSONAL_DATA_HMAC_KEY


def blind_index(value: str, *, purpose: str, previous: bool = False) -> str:
    """The HMAC under the current key (or, during a rotation, the previous one)."""
    key = _hmac_key(previous)
    if key is None:
        raise KeyConfigError("PERSONAL_DATA_HMAC_KEY_PREVIOUS is not set")
    return hmac_digest(key, value, purpose=purpose)


def encrypt(value: str, *, purpose: str) -> str:
    return keyring().encrypt(value, purpose=purpose)


def decrypt(token: str, *, purpose: str) -> str:
    return keyring().decrypt(token, purpose=purpose)


def clear_caches(**_kwargs) -> None:
    keyring.cache_clear()
    _hmac_key.cache_clear()


def _on_setting_changed(*, setting: str, **_kwargs) -> None:
    if setting.startswith("PERSONAL_DATA_"):
        clear_caches()


def settings_keys(environ: dict, *, insecure_defaults: bool) -> tuple[list[tuple[str, bytes]], bytes, bytes | None]:
    """The three key settings from the environment, for settings.py; fixed insecure keys
    when `insecure_defaults` (DEBUG or tests), KeyConfigError when a key is missing or bad."""
    keys_text = environ.get("PERSONAL_DATA_KEYS", "").strip()
    hmac_text = environ.get("PERSONAL_DATA_HMAC_KEY", "").strip()
    if not keys_text or not hmac_text:
        if not insecure_defaults:
            missing = [name for name, text in (("PERSONAL_DATA_KEYS", keys_text),
                                                ("PERSONAL_DATA_HMAC_KEY", hmac_text)) if not text]
            raise KeyConfigError(
                f"{' and '.join(missing)} must be set when DEBUG is off: the keys that encrypt ID and phone "
                f"numbers (see docs/personal-data.md; generate one with "
                f"python -c \"import base64,os;print(base64.b64encode(os.urandom(32)).decode())\")")
        keys_text = keys_text or DEV_KEYS
        hmac_text = hmac_text or DEV_HMAC_KEY
    previous_text = environ.get("PERSONAL_DATA_HMAC_KEY_PREVIOUS", "").strip()
    previous = parse_hmac_key(previous_text, setting="PERSONAL_DATA_HMAC_KEY_PREVIOUS") if previous_text else None
    return parse_keys(keys_text), parse_hmac_key(hmac_text), previous
