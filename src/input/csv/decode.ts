/**
 * Bytes → text, strictly: a byte that is not valid in the encoding is never turned into a
 * replacement character (it would be sent to Connect as part of a task). Instead the text before it
 * is handed over in full, then a DecodeFailure says where decoding stopped, so every record before the
 * bad bytes still gets its results row.
 */
import { TextDecoder } from 'node:util';
import { UsageError } from '../../errors.js';

/** Decoding stopped: the bytes from here on are not valid in `encoding`. */
export interface DecodeFailure {
  failure: true;
  encoding: string;
}

/** Resolves an encoding label; an unknown one is a usage error. */
function checkEncoding(encoding: string): string {
  try {
    return new TextDecoder(encoding, { fatal: true }).encoding;
  } catch {
    throw new UsageError(`unknown --encoding "${encoding}" (try utf8, latin1, windows-1252, utf-16le)`);
  }
}

/**
 * The encoding to read with. A UTF-16 byte-order mark wins over the default (Excel's "Unicode text"
 * export is UTF-16LE with a BOM): without it such a file could only be refused. An explicit
 * `--encoding` is always obeyed.
 */
export function sniffEncoding(first: Buffer, explicit: string | undefined): string {
  if (explicit !== undefined) return checkEncoding(explicit);
  if (first[0] === 0xff && first[1] === 0xfe) return 'utf-16le';
  if (first[0] === 0xfe && first[1] === 0xff) return 'utf-16be';
  return 'utf-8';
}

/** Decodes `chunks` in `encoding`; yields text, and at most one DecodeFailure, last. */
export async function* decodeChunks(
  chunks: AsyncIterable<Buffer>,
  encoding: string,
): AsyncGenerator<string | DecodeFailure> {
  const decoder = new TextDecoder(encoding, { fatal: true });
  let previous: Buffer | undefined;
  for await (const chunk of chunks) {
    try {
      const text = decoder.decode(chunk, { stream: true });
      if (text) yield text;
    } catch {
      const good = validPrefix(chunk, previous, encoding);
      if (good) yield good;
      yield { failure: true, encoding: decoder.encoding };
      return;
    }
    previous = chunk;
  }
  try {
    const rest = decoder.decode();
    if (rest) yield rest;
  } catch {
    // The input ends inside a character: nothing decodable follows.
    yield { failure: true, encoding: decoder.encoding };
  }
}

/**
 * The text of `chunk` before its first undecodable byte. A fresh decoder cannot pick up the stream
 * decoder's state, so for UTF-8 the incomplete character the previous chunk ended with is put back in
 * front (a character split across the chunk boundary is not the bad byte). Validity of a prefix is
 * monotone (in stream mode an incomplete last character is not an error), so a binary search finds it.
 */
function validPrefix(chunk: Buffer, previous: Buffer | undefined, encoding: string): string {
  const carry = previous && encoding === 'utf-8' ? incompleteUtf8Tail(previous) : Buffer.alloc(0);
  const bytes = Buffer.concat([carry, chunk]);
  const attempt = (n: number): string | undefined => {
    try {
      // Keep a BOM as text unless this is the very start of the input (the stream decoder dropped it there).
      return new TextDecoder(encoding, { fatal: true, ignoreBOM: previous !== undefined }).decode(
        bytes.subarray(0, n),
        { stream: true },
      );
    } catch {
      return undefined;
    }
  };
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (attempt(mid) !== undefined) lo = mid;
    else hi = mid - 1;
  }
  return attempt(lo) ?? '';
}

/** The bytes of a UTF-8 character that `buf` ends in the middle of (empty if it ends on a boundary). */
function incompleteUtf8Tail(buf: Buffer): Buffer {
  for (let i = buf.length - 1; i >= Math.max(0, buf.length - 3); i--) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for the lead byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return buf.length - i < need ? buf.subarray(i) : Buffer.alloc(0);
  }
  return Buffer.alloc(0);
}
