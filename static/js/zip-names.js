// How many images a .zip holds, from the names in its central directory: read from the
// end of the file, without reading (or unpacking) the rest. null when it cannot be read.
const CutoutZip = (() => {
  async function countImages(file, extensions) {
    try {
      const tailSize = Math.min(file.size, 22 + 0xffff);
      const tail = new DataView(await file.slice(file.size - tailSize).arrayBuffer());
      let end = tailSize - 22;
      while (end >= 0 && tail.getUint32(end, true) !== 0x06054b50) end -= 1;
      if (end < 0) return null;
      const [entries, size, offset] = [tail.getUint16(end + 10, true), tail.getUint32(end + 12, true), tail.getUint32(end + 16, true)];
      if (offset + size > file.size) return null;
      const bytes = new Uint8Array(await file.slice(offset, offset + size).arrayBuffer());
      const dir = new DataView(bytes.buffer);
      const decoder = new TextDecoder();
      let count = 0;
      for (let i = 0, at = 0; i < entries; i += 1) {
        if (at + 46 > size || dir.getUint32(at, true) !== 0x02014b50) return null;
        const nameLength = dir.getUint16(at + 28, true);
        const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
        const base = name.split("/").pop();
        const suffix = base.includes(".") ? base.split(".").pop().toLowerCase() : "";
        if (base && !base.startsWith(".") && !name.startsWith("__MACOSX/") && extensions.includes(suffix)) count += 1;
        at += 46 + nameLength + dir.getUint16(at + 30, true) + dir.getUint16(at + 32, true);
      }
      return count;
    } catch {
      return null;
    }
  }

  return { countImages };
})();
