/** Streaming reads of big JSON state files of older collectors: never the whole file as one string. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** The lines of a text file, read as a stream. */
export async function* readLines(path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
  }
}

/**
 * The entries of a file holding one JSON object (`{"k": v, …}`), one at a time, each parsed on its own:
 * memory is one entry, not the file. Throws on a file that is not one object.
 */
export async function* readObjectEntries(path: string): AsyncGenerator<[string, unknown]> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let parts: string[] = [];
  let started = false;
  const emit = (): [string, unknown] | undefined => {
    const text = parts.join('').trim();
    parts = [];
    if (!text) return undefined;
    const obj = JSON.parse(`{${text}}`) as Record<string, unknown>;
    const k = Object.keys(obj)[0] as string;
    return [k, obj[k]];
  };
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 }) as AsyncIterable<string>) {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 92 /* \ */) escaped = true;
        else if (c === 34 /* " */) inString = false;
        continue;
      }
      if (c === 34) inString = true;
      else if (c === 123 /* { */ || c === 91 /* [ */) {
        depth++;
        if (depth === 1) {
          if (c !== 123 || started) throw new Error(`${path}: not one JSON object`);
          started = true;
          from = i + 1;
        }
      } else if (c === 125 /* } */ || c === 93 /* ] */) {
        depth--;
        if (depth === 0) {
          parts.push(chunk.slice(from, i));
          const e = emit();
          if (e) yield e;
          from = chunk.length;
        }
      } else if (c === 44 /* , */ && depth === 1) {
        parts.push(chunk.slice(from, i));
        const e = emit();
        if (e) yield e;
        from = i + 1;
      }
    }
    if (depth >= 1 && from < chunk.length) parts.push(chunk.slice(from));
  }
  if (!started || depth !== 0) throw new Error(`${path}: not one complete JSON object`);
}
