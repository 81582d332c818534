"""What the readers of zip-based formats (torch checkpoints, .npz) share."""

from __future__ import annotations

import zipfile
import zlib

try:
    from lzma import LZMAError as _LZMAError
except ImportError:  # Python built without lzma: zipfile then cannot open LZMA members at all
    _LZMAError = zipfile.BadZipFile

#: What reading a member of a corrupt zip archive (a torch checkpoint, an .npz) raises, beyond the
#: ``BadZipFile`` of a bad header or CRC: a compression method flipped to deflate, bzip2 or LZMA
#: (``zlib.error``, ``OSError``, ``LZMAError``) or to an unknown one (``NotImplementedError``), a member
#: cut short (``EOFError``), an impossible offset or size (``ValueError``).
ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, _LZMAError, NotImplementedError, OSError, EOFError, ValueError,
)  # fmt: skip
