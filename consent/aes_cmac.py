"""AES-CMAC (NIST SP 800-38B, RFC 4493) of many strings at once, as lowercase hex: the bulk release pseudonym.

Vectorised with numpy over an Arrow string array's buffers; equal to ``cryptography``'s CMAC for every
input (tests hold it). A case id of up to 16 bytes costs one AES block: its bytes, padded with 0x80 and
zeros, XOR a subkey, encrypted. Longer ids chain one more block per 16 bytes, still in bulk.
"""

from __future__ import annotations

import binascii
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_MASK = (1 << 128) - 1
_CHUNK = 1 << 15  # rows per pass: the working set (a few MiB) stays in cache
_INNER = 17  # mask-table row of a block that is neither partial nor last: used as it is


def cmac_hex(key: bytes, message: bytes) -> str:
    """Reference: AES-CMAC of one message, hex (``cryptography``'s implementation)."""
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize().hex()


def _double(block: bytes) -> bytes:
    n = int.from_bytes(block, "big") << 1
    return ((n ^ 0x87 if n >> 128 else n) & _MASK).to_bytes(16, "big")


def _tables(l_block: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Per row of the last block's length (0-16, then ``_INNER``): bytes to keep, bytes to XOR in
    (the 10* padding and subkey K2 for a partial block, K1 for a whole one, nothing for inner blocks)."""
    k1 = _double(l_block)
    k2 = _double(k1)
    keep = np.zeros((18, 16), np.uint8)
    xor = np.zeros((18, 16), np.uint8)
    for n in range(16):
        keep[n, :n] = 0xFF
        xor[n, n] = 0x80
        xor[n] ^= np.frombuffer(k2, np.uint8)
    keep[16] = keep[_INNER] = 0xFF
    xor[16] = np.frombuffer(k1, np.uint8)
    # As 16-byte items: numpy gathers those row by row as fast as single integers.
    return keep.view("V16").reshape(-1), xor.view("V16").reshape(-1)


def cmac_hex_many(key: bytes, values: pa.Array, rows: np.ndarray, threads: int = 1) -> pa.Array:
    """AES-CMAC under ``key`` (16 bytes) of the UTF-8 of ``values[rows]``, as 32 lowercase hex digits each,
    on ``threads`` threads (numpy and AES let go of the GIL for most of the work)."""
    if values.type != pa.string():
        values = values.cast(pa.string())
    if values.null_count:
        raise ValueError("cannot pseudonymise a missing case id")
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, len(values) + 1, values.offset * 4)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    reader = _Reader(data)
    keep, xor = _tables(Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(bytes(16)))
    # From Arrow's pool, which keeps freed pages for reuse: fresh pages from the kernel cost more than
    # the hashing itself here (a page fault per 4 KiB of a 320 MB result).
    buffer = pa.allocate_buffer(len(rows) * 32)
    out = np.frombuffer(buffer, np.uint8)

    def work(first: int, last: int) -> None:
        encrypt = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # one per thread: it is not shared
        scratch = bytearray(_CHUNK * 16 + 15)
        for begin in range(first, last, _CHUNK):
            chunk = rows[begin : min(begin + _CHUNK, last)]
            starts = offsets[chunk]
            lengths = offsets[chunk + 1] - starts
            blocks = np.maximum((lengths + 15) // 16, 1)
            state = np.zeros((len(chunk), 2), np.uint64)
            for i in range(int(blocks.max(initial=1))):
                live = slice(None) if i == 0 else np.nonzero(blocks > i)[0]
                rest = lengths[live] - 16 * i
                table_row = np.where(blocks[live] == i + 1, np.minimum(rest, 16), _INNER)
                block = reader.read16(starts[live] + 16 * i).view(np.uint64).reshape(-1, 2)
                block &= keep[table_row].view(np.uint64).reshape(-1, 2)
                block ^= xor[table_row].view(np.uint64).reshape(-1, 2)
                block ^= state[live]
                encrypt.update_into(block.view(np.uint8).reshape(-1).data, scratch)
                state[live] = np.frombuffer(scratch, np.uint64, block.size).reshape(-1, 2)
            out[begin * 32 : (begin + len(chunk)) * 32] = np.frombuffer(binascii.hexlify(state.data), np.uint8)

    parts = max(1, min(threads, len(rows) // (4 * _CHUNK)))
    bounds = [len(rows) * k // parts for k in range(parts + 1)]
    if parts == 1:
        work(0, len(rows))
    else:
        with ThreadPoolExecutor(parts) as pool:
            for done in [pool.submit(work, a, b) for a, b in itertools.pairwise(bounds)]:
                done.result()
    offsets_buffer = pa.allocate_buffer((len(rows) + 1) * 4)
    np.frombuffer(offsets_buffer, np.int32)[:] = np.arange(0, len(rows) * 32 + 1, 32, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(rows), [None, offsets_buffer, buffer])


class _Reader:
    """16 bytes from any offset of a buffer, zeros past its end, without copying the buffer."""

    def __init__(self, data: np.ndarray) -> None:
        self.limit = len(data) - 16  # the last offset with 16 bytes after it
        self.tail_start = max(self.limit, 0)
        tail = np.zeros(64, np.uint8)
        tail[: len(data) - self.tail_start] = data[self.tail_start :]
        self.tail = np.ndarray((49,), dtype="V16", buffer=tail, strides=(1,))
        self.window = (
            np.ndarray((self.limit + 1,), dtype="V16", buffer=data, strides=(1,)) if self.limit >= 0 else self.tail
        )

    def read16(self, positions: np.ndarray) -> np.ndarray:
        if self.limit < 0:
            return self.tail[positions]
        out = self.window[np.minimum(positions, self.limit)]
        past = np.nonzero(positions > self.limit)[0]
        if len(past):  # ids in the last 16 bytes of the buffer
            out[past] = self.tail[positions[past] - self.tail_start]
        return out
