"""Wallet key files: SM4-GCM with a PBKDF2-HMAC-SM3 key; a wrong passphrase or any altered
byte is refused with a clear error and the file stays exactly as it was."""
import json

import pytest

from labchain.crypto.keyfile import (KeyFileError, WrongPassphraseError, change_passphrase, read_key_file,
                              write_key_file)

SECRET = bytes(range(32))
FAST = 10_000   # the minimum count: the default (200,000) costs ~0.2 s per open


def test_round_trip_and_file_is_private(tmp_path):
    path = write_key_file(tmp_path / "k.json", SECRET, "correct horse", label="alice", iterations=FAST)
    assert read_key_file(path, "correct horse") == SECRET
    assert path.stat().st_mode & 0o777 == 0o600
    assert SECRET.hex() not in path.read_text()


def test_default_iterations_round_trip(tmp_path):
    path = write_key_file(tmp_path / "k.json", SECRET, "pw")
    assert json.loads(path.read_text())["iterations"] == 200_000
    assert read_key_file(path, "pw") == SECRET


def test_wrong_passphrase_is_refused_and_changes_nothing(tmp_path):
    path = write_key_file(tmp_path / "k.json", SECRET, "right", iterations=FAST)
    before = path.read_bytes()
    with pytest.raises(WrongPassphraseError, match="passphrase is wrong"):
        read_key_file(path, "wrong")
    with pytest.raises(WrongPassphraseError):
        change_passphrase(path, "wrong", "new")
    assert path.read_bytes() == before
    change_passphrase(path, "right", "new")
    assert read_key_file(path, "new") == SECRET


@pytest.mark.parametrize("field", ["ciphertext", "salt", "nonce", "label", "iterations"])
def test_any_altered_field_is_detected(tmp_path, field):
    path = write_key_file(tmp_path / "k.json", SECRET, "pw", iterations=FAST)
    doc = json.loads(path.read_text())
    if field == "iterations":
        doc[field] += 1
    elif field == "label":
        doc[field] = "mallory"
    else:
        doc[field] = ("0" if doc[field][0] != "0" else "1") + doc[field][1:]
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphraseError, match="altered"):
        read_key_file(path, "pw")


def test_not_a_key_file_and_no_silent_overwrite(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(KeyFileError, match="not a LabChain key file"):
        read_key_file(other, "pw")
    with pytest.raises(KeyFileError, match="already exists"):
        write_key_file(other, SECRET, "pw", iterations=FAST)
    assert other.read_text() == "hello"
    doc = json.loads(write_key_file(tmp_path / "k.json", SECRET, "pw", iterations=FAST).read_text())
    doc["iterations"] = 1
    (tmp_path / "k.json").write_text(json.dumps(doc))
    with pytest.raises(KeyFileError, match="iteration count 1 is outside"):
        read_key_file(tmp_path / "k.json", "pw")
