"""The compiled decoder under AddressSanitizer and UndefinedBehaviorSanitizer: mutated
messages (bytes inserted, cut, replaced; huge and deep ones) never read or write out of
bounds, and what it accepts orjson accepts too. Built here with gcc; it needs the compiler
the install needs for the decoder itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

FUZZ = r'''
import importlib.util, random, sys, orjson
spec = importlib.util.spec_from_file_location("_columns", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
rng = random.Random(int(sys.argv[2]))
base = [b'{"ts":1764000000.123,"service":"web","region":"eu","status":200,"latency_ms":5.0,'
        b'"operation":"GET /","x":[1,{"a":"b\\u00e9"},null,true,-2.5e-3],"s":"q\\"\\\\"}',
        b'[{"ts":1764000001,"service":"api","region":"s\xc3\xa3o","status":503},'
        b'{"ts":1764000002,"service":"api"}]']
junk = [b"\\", b'"', b"\\u", b"\\ud83d", b"\xc3", b"\xff", b"{", b"}", b"[", b"]", b",", b":",
        b" ", b"e9", b"-", b".", b"0", b"\x00", b"\xe2\x82\xac", b"1e99", b"null", b"tru"]
accepted = 0
for n in range(int(sys.argv[3])):
    values = []
    for _ in range(rng.randint(1, 4)):
        value = bytearray(rng.choice(base))
        for _ in range(rng.randint(0, 4)):
            at = rng.randint(0, len(value))
            op = rng.random()
            if op < 0.15:
                del value[at:]  # cut short
            elif op < 0.45:
                value[at:at] = rng.choice(junk)
            elif op < 0.7:
                del value[at:at + rng.randint(1, 5)]
            else:
                value[at:at + 1] = bytes([rng.randrange(256)])
        values.append(bytes(value) if rng.random() > 0.02 else rng.choice([None, b"", b" "]))
    if mod.decode(values, ("region", "operation")) is not None:
        accepted += 1
        for value in values:
            orjson.loads(value)
head = b'{"ts":1,"service":"a","x":'
for value in [head + b"[" * 100000 + b"]" * 100000 + b"}", head + b'"' + b"a" * 10**6 + b'"}',
              b"[" + b",".join(b'{"ts":1,"service":"s%d"}' % i for i in range(50000)) + b"]",
              head + b"1" + b"0" * 100 + b"}", b'{"ts":' + b"9" * 39 + b',"service":"a"}']:
    mod.decode([value], ("region",))
print("accepted", accepted)
'''


def test_the_compiled_decoder_is_clean_under_sanitizers(tmp_path: Path) -> None:
    gcc = shutil.which("gcc")
    runtimes = []
    if gcc is not None:
        runtimes = [subprocess.run([gcc, f"-print-file-name={name}"], capture_output=True,
                                   text=True, check=True).stdout.strip()
                    for name in ("libasan.so", "libubsan.so")]
    if gcc is None or not all(Path(path).is_absolute() and Path(path).exists()
                              for path in runtimes):
        message = "gcc with AddressSanitizer and UBSan runtimes is needed (apt-get install gcc)"
        if os.environ.get("SRE_REQUIRE_COMPILED") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    library = tmp_path / "_columns.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-g", "-O1", "-fno-omit-frame-pointer",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                    f"-I{sysconfig.get_paths()['include']}",
                    str(ROOT / "streams" / "offline" / "_columns.c"), "-o", str(library)],
                   check=True)
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZ, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(library), "7", "150000"],
                          env={**os.environ, "LD_PRELOAD": ":".join(runtimes),
                               # Objects from malloc, not Python's pools, so that the
                               # sanitizer sees the end of every message's buffer.
                               "PYTHONMALLOC": "malloc",
                               "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1"},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.startswith("accepted "), done.stdout
    assert int(done.stdout.split()[1]) > 5000  # some batches survive their mutations whole
