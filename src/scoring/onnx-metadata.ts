/**
 * ModelProto.metadata_props read straight from the protobuf bytes: onnxruntime-node does not expose
 * custom metadata, and the hash check must happen before a session is trusted. Only the top level of
 * ModelProto is walked (field 14 = repeated StringStringEntryProto {1: key, 2: value}).
 */
export function onnxMetadata(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const dec = new TextDecoder();
  let i = 0;
  const varint = (): number => {
    let x = 0;
    let mul = 1;
    for (;;) {
      const b = bytes[i++]!;
      x += (b & 0x7f) * mul;
      if (b < 0x80) return x;
      mul *= 128;
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = varint();
      const end = i + len;
      if (field === 14) {
        let key = '';
        let value = '';
        while (i < end) {
          const t = varint();
          const l = varint();
          const s = dec.decode(bytes.subarray(i, i + l));
          i += l;
          if (t >> 3 === 1) key = s;
          else if (t >> 3 === 2) value = s;
        }
        out[key] = value;
      }
      i = end;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}
