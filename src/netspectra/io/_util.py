"""What the readers of zip-based formats (torch checkpoints, .npz) share."""

from __future__ import annotations

import zipfile
import zlib

from ..errors import SourceError

try:
    from lzma import LZMAError as _LZMAError
except ImportError:  # Python built without lzma: zipfile then cannot open LZMA members at all
    _LZMAError = zipfile.BadZipFile

#: What reading a member of a corrupt zip archive (a torch checkpoint, an .npz) raises, beyond the
#: ``BadZipFile`` of a bad header or CRC: a compression method flipped to deflate, bzip2 or LZMA
#: (``zlib.error``, ``OSError``, ``LZMAError``) or to an unknown one (``NotImplementedError``), a member
#: cut short (``EOFError``), an impossible offset or size (``ValueError``).
ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    _LZMAError,
    NotImplementedError,
    OSError,
    EOFError,
    ValueError,
)

#: Most a member may expand: deflate's own limit (about 1032:1).  bzip2 and LZMA can go further, but
#: only on data no weight matrix or state-dict pickle is made of (long runs of one byte), which is
#: what a decompression bomb is made of.
MAX_COMPRESSION_RATIO = 1032


def check_member(info: zipfile.ZipInfo, label: str) -> None:
    """Refuse an encrypted zip member, or one whose declared size its compressed bytes cannot hold.

    A stored member must occupy exactly its size; a compressed one (deflate, bzip2, LZMA, any method)
    may claim at most ``MAX_COMPRESSION_RATIO`` times its compressed size (plus 1 KiB of slack for
    tiny members).  Checked before a byte is decompressed, so a 74 KB archive cannot claim 6.7 GB.

    Raises
    ------
    SourceError
        Naming ``label``, the member and both sizes.
    """
    if info.flag_bits & 0x1:
        raise SourceError(f"{label}: {info.filename} is encrypted; netspectra reads no encrypted archives")
    if info.compress_type == zipfile.ZIP_STORED:
        forged = info.compress_size != info.file_size
    else:
        forged = info.file_size > MAX_COMPRESSION_RATIO * info.compress_size + 1024
    if forged:
        raise SourceError(
            f"{label}: {info.filename} is a forged or corrupt archive member (a decompression "
            f"bomb?): {info.compress_size} bytes stored claim {info.file_size}"
        )
