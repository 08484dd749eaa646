/**
 * A zip writer without compression ("stored" entries): enough to hand a model folder to the
 * user as one download that any unzip tool, Python's `zipfile` and Hugging Face's tools open.
 * Safetensors weights barely compress, so deflate would buy little.
 *
 * @module
 */

/** One file of the archive. */
export interface ZipEntry {
  /** Its path inside the archive (`/`-separated). */
  name: string;
  /** Its contents. */
  data: Uint8Array;
}

let crcTable: Uint32Array | null = null;

/**
 * CRC-32 (IEEE 802.3, as zip uses).
 *
 * @param data The bytes.
 * @returns The checksum.
 * @example
 * ```ts
 * import { crc32 } from "./zip.ts";
 * console.log(crc32(new TextEncoder().encode("123456789")).toString(16)); // "cbf43926"
 * ```
 */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Writes a zip archive of stored (uncompressed) entries.
 *
 * @param entries The files, in order.
 * @param date Their modification time (now by default).
 * @returns The archive's bytes.
 * @throws {RangeError} When the archive would need zip64 (4 GiB or more, or 65535 entries).
 * @example
 * ```ts
 * import { zipStored } from "./zip.ts";
 * const zip = zipStored([{ name: "a.txt", data: new TextEncoder().encode("hi") }]);
 * console.log(zip[0] === 0x50 && zip[1] === 0x4b); // true
 * ```
 */
export function zipStored(entries: ZipEntry[], date: Date = new Date()): Uint8Array {
  const encoder = new TextEncoder();
  const names = entries.map((e) => encoder.encode(e.name));
  const local = entries.reduce((n, e, i) => n + 30 + names[i].length + e.data.length, 0);
  const central = entries.reduce((n, _, i) => n + 46 + names[i].length, 0);
  if (local + central + 22 >= 2 ** 32 || entries.length >= 0xffff) {
    throw new RangeError("the archive is too large for a zip without zip64");
  }
  const out = new Uint8Array(local + central + 22);
  const view = new DataView(out.buffer);
  // MS-DOS time and date fields, in local time as zip tools read them.
  const time = (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1);
  const day = ((Math.max(1980, date.getFullYear()) - 1980) << 9) | ((date.getMonth() + 1) << 5) |
    date.getDate();
  const offsets: number[] = [];
  const crcs = entries.map((e) => crc32(e.data));
  let at = 0;
  // Fields shared by the local and the central headers, from "version needed" on.
  const common = (i: number, p: number) => {
    view.setUint16(p, 20, true); // version needed: 2.0
    view.setUint16(p + 2, 0x0800, true); // flags: names are UTF-8
    view.setUint16(p + 4, 0, true); // method: stored
    view.setUint16(p + 6, time, true);
    view.setUint16(p + 8, day, true);
    view.setUint32(p + 10, crcs[i], true);
    view.setUint32(p + 14, entries[i].data.length, true);
    view.setUint32(p + 18, entries[i].data.length, true);
    view.setUint16(p + 22, names[i].length, true);
    view.setUint16(p + 24, 0, true); // extra field length
  };
  entries.forEach((e, i) => {
    offsets.push(at);
    view.setUint32(at, 0x04034b50, true);
    common(i, at + 4);
    out.set(names[i], at + 30);
    out.set(e.data, at + 30 + names[i].length);
    at += 30 + names[i].length + e.data.length;
  });
  const centralStart = at;
  entries.forEach((_, i) => {
    view.setUint32(at, 0x02014b50, true);
    view.setUint16(at + 4, 20, true); // version made by
    common(i, at + 6);
    // Comment length, disk number, internal and external attributes stay zero.
    view.setUint32(at + 42, offsets[i], true);
    out.set(names[i], at + 46);
    at += 46 + names[i].length;
  });
  view.setUint32(at, 0x06054b50, true);
  view.setUint16(at + 8, entries.length, true);
  view.setUint16(at + 10, entries.length, true);
  view.setUint32(at + 12, at - centralStart, true);
  view.setUint32(at + 16, centralStart, true);
  return out;
}
