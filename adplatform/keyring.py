"""The platform's versioned secret keys (semantic 8), and the envelope of a sealed payload.

One secret per key version. The current one is ``ADPLATFORM_PSEUDONYM_KEY`` with its
version ``ADPLATFORM_PSEUDONYM_KEY_VERSION`` (1-255, default 1); older ones that stored
values still need are listed in ``ADPLATFORM_PSEUDONYM_RETIRED_KEYS`` as
``<version>:<secret>`` entries separated by commas. Like the current key they come from
the environment (the embedded stack generates the first one into its state folder), never
from the repository. Rotation is described in docs/data-contracts.md ("Privacy").

Each secret serves two purposes, kept apart:

* the HMAC key of pseudonyms is the secret itself (so version 1 gives the pseudonyms the
  platform has always written);
* the AES-256 key that seals quarantined raw payloads is derived from it with HKDF-SHA256
  (RFC 5869) under its own label, so neither key tells anything about the other.

A sealed payload is ``version byte || IV (12 bytes) || ciphertext || GCM tag (16 bytes)``:
what Spark's ``aes_encrypt(payload, key, 'GCM')`` writes (a random IV per value), behind
one byte naming the key version, which is also the GCM's additional authenticated data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from adplatform.settings import ENV_PREFIX, Settings, SettingsError

MIN_VERSION, MAX_VERSION = 1, 255
IV_BYTES = 12
TAG_BYTES = 16
PAYLOAD_KEY_BYTES = 32  # AES-256
PAYLOAD_KEY_LABEL = b"adplatform quarantine raw payload, AES-256-GCM"

_CURRENT = f"{ENV_PREFIX}PSEUDONYM_KEY"
_VERSION = f"{ENV_PREFIX}PSEUDONYM_KEY_VERSION"
_RETIRED = f"{ENV_PREFIX}PSEUDONYM_RETIRED_KEYS"


class UnknownKeyVersion(SettingsError):
    """A stored value names a key version the settings do not hold."""


def _check_version(version: int, where: str) -> int:
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise SettingsError(
            f"{where}: key version {version} is not in {MIN_VERSION}..{MAX_VERSION}"
        )
    return version


def parse_retired(text: str) -> dict[int, bytes]:
    """``"1:secret-one,2:secret-two"`` -> {1: b"secret-one", 2: b"secret-two"}."""
    keys: dict[int, bytes] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        version_text, sep, secret = entry.partition(":")
        if not sep or not version_text.strip().isdigit() or not secret:
            raise SettingsError(
                f"{_RETIRED}: entry {version_text.strip() or '?'}:... is not <version>:<secret>"
            )
        version = _check_version(int(version_text), _RETIRED)
        if version in keys:
            raise SettingsError(f"{_RETIRED}: key version {version} is listed twice")
        keys[version] = secret.encode("utf-8")
    return keys


@dataclass(frozen=True)
class KeyRing:
    """The current key version and the secret of every version still held."""

    current_version: int
    secrets: Mapping[int, bytes] = field(repr=False)

    def secret(self, version: int) -> bytes:
        try:
            return self.secrets[version]
        except KeyError:
            held = ", ".join(str(v) for v in sorted(self.secrets))
            raise UnknownKeyVersion(
                f"key version {version} is not held (held: {held}): list it in {_RETIRED} "
                f"as {version}:<secret>"
            ) from None

    def payload_key(self, version: int | None = None) -> bytes:
        """The AES-256 key that seals quarantined payloads under a version (default: current)."""
        from cryptography.hazmat.primitives.hashes import SHA256
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        chosen = self.current_version if version is None else version
        # HKDF (RFC 5869) without salt: the secret stays the pseudonym key, this key is
        # derived from it for this one purpose.
        return HKDF(SHA256(), PAYLOAD_KEY_BYTES, None, PAYLOAD_KEY_LABEL).derive(
            self.secret(chosen)
        )


def from_settings(settings: Settings) -> KeyRing:
    """The key ring of the settings; refuses an empty current key or a clashing version."""
    if not settings.pseudonym_key:
        raise SettingsError(
            f"{_CURRENT} is empty: set it to the platform's secret key "
            "(`adplatform stack up` generates one into the state folder)"
        )
    version = _check_version(settings.pseudonym_key_version, _VERSION)
    secrets = parse_retired(settings.pseudonym_retired_keys)
    if version in secrets:
        raise SettingsError(
            f"{_RETIRED} lists version {version}, the current {_VERSION}: a retired key "
            "has an older version than the current one"
        )
    secrets[version] = settings.pseudonym_key.encode("utf-8")
    return KeyRing(version, secrets)


def envelope_version(sealed: bytes) -> int:
    """The key version a sealed payload names (its first byte)."""
    if len(sealed) < 1 + IV_BYTES + TAG_BYTES:
        raise ValueError(f"{len(sealed)} bytes: too short for a sealed payload")
    return sealed[0]


def open_payload(sealed: bytes, ring: KeyRing) -> bytes:
    """The raw bytes of a sealed payload, with the key of the version it names."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    version = envelope_version(sealed)
    iv, body = sealed[1 : 1 + IV_BYTES], sealed[1 + IV_BYTES :]
    try:
        return AESGCM(ring.payload_key(version)).decrypt(iv, body, sealed[:1])
    except InvalidTag:
        raise UnknownKeyVersion(
            f"a payload sealed with key version {version} does not open with the key held "
            "for that version: the secret listed for it is not the one that sealed it"
        ) from None
