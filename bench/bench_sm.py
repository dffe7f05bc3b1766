"""National cryptography speed: SM2 sign/verify and SM3 throughput, versus OpenSSL.

Printed per SM2 back-end (``labchain.crypto.sm.BACKENDS``: ``openssl`` = libcrypto through
ctypes, ``python`` = the readable module) and, for comparison, the independent pure-Python
``gmssl`` when it is installed: signatures and verifications per CPU-second on one core,
and the ratio to ``openssl speed sm2`` measured in the same run (goal for verification:
>= 0.8x). Verification uses keys already cached (``openssl speed`` reuses one prepared
key) and 64-byte messages; signing is LabChain's deterministic SM2 (nonce by HMAC-SM3).
SM3: MB/s of ``hashlib.new("sm3")`` and of the readable module on 16 KiB messages versus
``openssl speed -evp sm3``.

Like ``openssl speed``, figures are per CPU-second (``time.process_time``), so other work
on the machine changes them less than wall-clock figures.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_note, openssl_speed, table  # noqa: E402

from labchain.crypto import sm, sm2, sm3  # noqa: E402

MESSAGE = bytes(range(64))
SM3_SIZE = 16384


def per_cpu_second(fn, seconds: float) -> float:
    count, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        fn()
        count += 1
    return count / elapsed


def openssl_sm2() -> tuple[float, float]:
    for line in openssl_speed("-seconds", "3", "sm2"):
        if line.startswith("+F7:"):         # +F7:<n>:256:CurveSM2:<signs/s>:<verifies/s>
            fields = line.split(":")
            return float(fields[4]), float(fields[5])
    raise RuntimeError("no sm2 figure in openssl speed output")


def openssl_sm3_mb() -> float:
    for line in openssl_speed("-seconds", "2", "-bytes", str(SM3_SIZE), "-evp", "sm3"):
        fields = line.split(":")             # +F:<n>:sm3:<bytes per second>
        if fields[2] == "sm3":
            return float(fields[3]) / 1e6
    raise RuntimeError("no sm3 figure in openssl speed output")


def main() -> None:
    suite = sm.SUITE
    secret = suite.secret_from_seed("labchain sm benchmark", 0)
    public = suite.public_key(secret)
    signature = suite.sign(secret, MESSAGE)
    ossl_sign, ossl_verify = openssl_sm2()
    rows = []
    for name in sm.BACKENDS:
        sm.set_backend(name)
        seconds = 3 if name == "openssl" else 2
        counter = iter(range(10**9))
        signs = per_cpu_second(lambda: suite.sign(secret, next(counter).to_bytes(8, "big")), seconds)
        verifies = per_cpu_second(lambda: suite.verify(public, MESSAGE, signature), seconds)
        rows.append([f"labchain {name}", signs, verifies, signs / ossl_sign, verifies / ossl_verify])
    sm.set_backend("openssl" if "openssl" in sm.BACKENDS else "python")
    try:
        from gmssl import sm2 as gmssl_sm2

        crypt = gmssl_sm2.CryptSM2(private_key=f"{secret:064x}",
                                   public_key=sm2.uncompressed(sm2.decode_point(public))[1:].hex())
        their = crypt.sign_with_sm3(MESSAGE)
        signs = per_cpu_second(lambda: crypt.sign_with_sm3(MESSAGE), 2)
        verifies = per_cpu_second(lambda: crypt.verify_with_sm3(their, MESSAGE), 2)
        rows.append(["gmssl 3.2 (pure Python)", signs, verifies, signs / ossl_sign, verifies / ossl_verify])
    except ImportError:
        pass
    rows.append(["openssl speed sm2", ossl_sign, ossl_verify, 1.0, 1.0])
    print("SM2 signatures, one core, per CPU-second")
    print(table(["implementation", "sign/s", "verify/s", "sign x openssl", "verify x openssl"], rows))

    data = bytes(SM3_SIZE)
    fast = per_cpu_second(lambda: sm3.sm3(data), 2) * SM3_SIZE / 1e6
    readable = per_cpu_second(lambda: sm3.sm3_readable(data[:1024]), 2) * 1024 / 1e6
    ossl = openssl_sm3_mb()
    print(f"\nSM3 on {SM3_SIZE}-byte messages (readable: 1 KiB), one core, MB per CPU-second")
    print(table(["implementation", "MB/s", "x openssl"],
                [["hashlib.new('sm3')", fast, fast / ossl], ["sm3_readable", readable, readable / ossl],
                 ["openssl speed -evp sm3", ossl, 1.0]]))
    print(f"\n{machine_note()}")


if __name__ == "__main__":
    main()
