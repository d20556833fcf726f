"""Payloads encrypted at rest in Temporal (AES-GCM), with rotatable keys.

Each encrypted payload names the key that sealed it, so old histories stay readable after
a new key becomes current. Payloads written before encryption was switched on are passed
through unchanged, so existing histories still replay.

Keys come from the environment: PAYLOAD_KEYS="k2026a:<base64 32 bytes>,k2025b:<...>" and
PAYLOAD_KEY_ID="k2026a" (the one that encrypts). With no keys set, nothing is encrypted.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class KeyUnavailable(ValueError):
    """A payload was sealed with a key this process does not hold."""


def parse_keys(spec: str) -> dict[str, bytes]:
    """'id:base64,id:base64' into {id: 32-byte key}; refuses anything but AES-256 keys."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key_id, _, encoded = part.partition(":")
        key = base64.b64decode(encoded)
        if not key_id or len(key) != 32:
            raise ValueError(f"PAYLOAD_KEYS: entry '{key_id}' must be id:base64 of 32 bytes")
        keys[key_id] = key
    return keys


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"PAYLOAD_KEY_ID: '{current}' is not among PAYLOAD_KEYS")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        sealed = []
        for payload in payloads:
            nonce = os.urandom(12)
            key_id = self._current.encode()
            ciphertext = self._keys[self._current].encrypt(nonce, payload.SerializeToString(), key_id)
            sealed.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + ciphertext))
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                opened.append(payload)  # written before encryption was switched on
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._keys.get(key_id)
            if cipher is None:
                raise KeyUnavailable(f"payload sealed with key '{key_id}', which is not configured")
            plaintext = cipher.decrypt(payload.data[:12], payload.data[12:], key_id.encode())
            opened.append(Payload.FromString(plaintext))
        return opened


def data_converter(keys_spec: str = "", current: str = "") -> DataConverter:
    """The pydantic converter; with keys, payloads and failure messages are encrypted too."""
    if not keys_spec:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(parse_keys(keys_spec), current),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def payload_codec(settings: Any) -> EncryptionCodec | None:
    """The codec the settings ask for, or None when payloads are not encrypted."""
    if not settings.payload_keys:
        return None
    return EncryptionCodec(parse_keys(settings.payload_keys), settings.payload_key_id)
