"""Zip a DAP folder (dap.yaml at its root) into a package: `python -m tasklane.dap.pack DIR OUT.dap`.

The zip is deterministic (sorted names, fixed timestamps), so the same folder gives the same template id.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)


def pack_directory(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m tasklane.dap.pack DIR OUT.dap", file=sys.stderr)
        return 2
    Path(args[1]).write_bytes(pack_directory(Path(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
