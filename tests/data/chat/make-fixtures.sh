#!/bin/sh
# Regenerates the picture fixtures of tests/unit/core/test_chat_image.c and the fuzz seeds.
# Real images come from Debian's ffmpeg; broken ones are derived from them with python3.
set -e
cd "$(dirname "$0")"
F="ffmpeg -hide_banner -loglevel error -y -f lavfi"
$F -i color=c=red:s=24x10 -frames:v 1 red_24x10.png
$F -i color=c=red:s=24x10 -frames:v 1 -pix_fmt yuvj420p red_24x10.jpg
$F -i color=c=red:s=24x10 -frames:v 1 -c:v libwebp -lossless 0 red_24x10_lossy.webp
$F -i color=c=red:s=24x10 -frames:v 1 -c:v libwebp -lossless 1 red_24x10_lossless.webp
$F -i color=c=red@0.5:s=24x10,format=yuva420p -frames:v 1 -c:v libwebp -lossless 0 red_24x10_alpha.webp
python3 - <<'PY'
import struct, zlib
png = open('red_24x10.png', 'rb').read()
jpg = open('red_24x10.jpg', 'rb').read()
webp = open('red_24x10_lossy.webp', 'rb').read()
open('truncated.png', 'wb').write(png[:len(png) - 20])
open('truncated.jpg', 'wb').write(jpg[:len(jpg) - 30])
open('truncated.webp', 'wb').write(webp[:len(webp) - 10])
open('jpeg_named.png', 'wb').write(jpg)            # mislabeled: the page says image/png
open('trailing.png', 'wb').write(png + b'PK\x03\x04 hidden zip')
# IHDR claiming 100000 x 100000 pixels, with a correct CRC so only the size is wrong
ihdr = b'IHDR' + struct.pack('>II', 100000, 100000) + png[24:29]
huge = png[:8] + struct.pack('>I', 13) + ihdr + struct.pack('>I', zlib.crc32(ihdr)) + png[33:]
open('huge_100000.png', 'wb').write(huge)
# an APP1 Exif segment right after SOI, as phone cameras write (GPS lives there)
exif = b'Exif\x00\x00' + b'MM\x00\x2a\x00\x00\x00\x08' + b'\x00\x00'
app1 = b'\xff\xe1' + struct.pack('>H', len(exif) + 2) + exif
open('exif.jpg', 'wb').write(jpg[:2] + app1 + jpg[2:])
PY
