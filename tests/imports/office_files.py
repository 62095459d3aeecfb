"""Files shaped like the ones Excel writes, built byte by byte for the bad-input tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

SECTOR = 512
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _dir_entry(name: str, kind: int, *, child=NOSTREAM, left=NOSTREAM, right=NOSTREAM, start=0, size=0) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return struct.pack(
        "<64sHBBIII16sI8s8sIQ",
        encoded.ljust(64, b"\0"), len(encoded), kind, 1,  # kind: 1 storage, 2 stream, 5 root; colour 1 = black
        left, right, child, b"\0" * 16, 0, b"\0" * 8, b"\0" * 8, start, size)


def cfb_bytes(streams: dict[str, bytes]) -> bytes:
    """An OLE compound file (MS-CFB, version 3) holding `streams`, as Excel writes a
    password-protected workbook (streams EncryptionInfo and EncryptedPackage). Streams are
    padded to 4 KB so that they live in regular sectors (no mini stream)."""
    names = list(streams)
    data = {name: streams[name].ljust(4096, b"\0") for name in names}
    directory = [_dir_entry("Root Entry", 5, child=1 if names else NOSTREAM, start=ENDOFCHAIN)]
    # One FAT sector, one directory sector (4 entries), then the streams' sectors.
    fat_sector, dir_sector = 0, 1
    chains: list[tuple[int, int]] = []
    next_sector = 2
    for name in names:
        count = -(-len(data[name]) // SECTOR)
        chains.append((next_sector, count))
        next_sector += count
    for index, name in enumerate(names):
        start, _count = chains[index]
        # A chain of siblings to the right keeps the red-black tree valid (all black, sorted by length, name).
        right = index + 2 if index + 1 < len(names) else NOSTREAM
        directory.append(_dir_entry(name, 2, right=right, start=start, size=len(data[name])))
    while len(directory) % 4:
        directory.append(b"\0" * 64 + struct.pack("<HBB", 0, 0, 0) + struct.pack("<III", NOSTREAM, NOSTREAM, NOSTREAM)
                         + b"\0" * 48)
    assert len(directory) == 4, "one directory sector holds four entries"
    fat = [FATSECT, ENDOFCHAIN]
    for start, count in chains:
        fat += [start + i + 1 for i in range(count - 1)] + [ENDOFCHAIN]
    fat += [FREESECT] * (SECTOR // 4 - len(fat))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16, 0x3E, 3, 0xFFFE, 9, 6, b"\0" * 6,
        0, 1, dir_sector, 0, 4096, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
    header += struct.pack("<109I", fat_sector, *([FREESECT] * 108))
    body = struct.pack(f"<{SECTOR // 4}I", *fat) + b"".join(directory)
    body += b"".join(data[name].ljust(count * SECTOR, b"\0") for name, (_start, count) in zip(names, chains,
                                                                                               strict=True))
    return header + body


def encrypted_workbook() -> bytes:
    """What Excel saves for a workbook with a password to open: an agile-encryption header
    and an encrypted package (here random-looking bytes) in a compound file."""
    info = struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0" encoding="UTF-8"?><encryption xmlns=' \
        b'"http://schemas.microsoft.com/office/2006/encryption"/>'
    package = struct.pack("<Q", 9000) + bytes((i * 151 + 7) % 256 for i in range(9000))
    return cfb_bytes({"EncryptionInfo": info, "EncryptedPackage": package})


def zip_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def zip_declaring(member: str, content: bytes, declared_size: int) -> bytes:
    """A zip whose one member declares `declared_size` uncompressed bytes (in its local
    header and in the central directory) whatever it really holds."""
    data = bytearray(zip_with({member: content}))
    true_size = struct.pack("<I", len(content))
    fake_size = struct.pack("<I", declared_size)
    local = data.find(b"PK\x03\x04")
    assert data[local + 22:local + 26] == true_size
    data[local + 22:local + 26] = fake_size
    central = data.find(b"PK\x01\x02")
    assert data[central + 24:central + 28] == true_size
    data[central + 24:central + 28] = fake_size
    return bytes(data)


def zeros_bomb(megabytes: int) -> bytes:
    """An XLSX-named zip whose sheet inflates `megabytes` MB of nothing."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (1 << 20)
    deflated = b"".join(compressor.compress(chunk) for _ in range(megabytes)) + compressor.flush()
    size = megabytes << 20
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    name = b"xl/worksheets/sheet1.xml"
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(deflated), size, len(name), 0) + name
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(deflated), size,
                          len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(deflated), 0)
    return local + deflated + central + end


def sheet_workbook(sheet_xml: str | bytes, *, sheet_name: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The smallest XLSX Excel would open: one sheet whose <worksheet> holds `sheet_xml`
    (dimension, sheetData...), as written, so that hostile XML reaches the reader as is."""
    if isinstance(sheet_xml, str):
        sheet_xml = sheet_xml.encode()
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    return zip_with({
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
            '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
            'main+xml"/><Override PartName="/' + sheet_name + '" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>').encode(),
        "_rels/.rels": (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{package}"><Relationship '
                        f'Id="rId1" Type="{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>').encode(),
        "xl/workbook.xml": (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rels}">'
                            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>').encode(),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rels}/worksheet" Target="{sheet_name.removeprefix("xl/")}"/></Relationships>').encode(),
        sheet_name: (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}">').encode()
        + sheet_xml + b"</worksheet>",
    })


def _biff_record(kind: int, body: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def xls_workbook(cells: list[tuple[int, int, float]]) -> bytes:
    """An Excel 97-2003 workbook (BIFF8 in an OLE file) of one sheet holding NUMBER records at
    the given 0-based (row, column): the records allow 65,536 rows and 65,536 columns."""
    bof = struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06)
    name = b"Sheet1"

    def boundsheet(offset: int) -> bytes:
        return _biff_record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(name), 0) + name)

    head = _biff_record(0x0809, bof) + _biff_record(0x0042, struct.pack("<H", 1200))
    offset = len(head) + len(boundsheet(0)) + len(_biff_record(0x000A))
    last_row, last_column = max(row for row, _c, _v in cells), max(column for _r, column, _v in cells)
    sheet = (_biff_record(0x0809, bof[:2] + struct.pack("<H", 0x0010) + bof[4:])
             + _biff_record(0x0200, struct.pack("<IIHHH", 0, last_row + 1, 0, min(last_column + 1, 0xFFFF), 0))
             + b"".join(_biff_record(0x0203, struct.pack("<HHHd", row, column, 0, value))
                        for row, column, value in cells)
             + _biff_record(0x000A))
    return cfb_bytes({"Workbook": head + boundsheet(offset) + _biff_record(0x000A) + sheet})
