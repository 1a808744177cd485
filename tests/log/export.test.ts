import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLog, startSession, UnknownSessionError, type LogDatabase } from '../../server/log/db.ts';
import { csvField, EXPORT_COLUMNS, sessionFaces, sessionFacesCsv, sessionFacesJsonl, type LoggedFace } from '../../server/log/export.ts';
import { FrameLogWriter } from '../../server/log/writer.ts';
import { face } from './helpers.ts';

/** An independent RFC 4180 reader: quoted fields may hold commas, doubled quotes and line breaks; records end in CRLF. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      i++;
      while (!(text[i] === '"' && text[i + 1] !== '"')) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        field += text[i];
        i += text[i] === '"' ? 2 : 1;
      }
      i++;
    } else if (text[i] === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (text.startsWith('\r\n', i)) {
      records.push([...record, field]);
      record = [];
      field = '';
      i += 2;
    } else {
      field += text[i++];
    }
  }
  if (field !== '' || record.length > 0) throw new Error('last record does not end in CRLF');
  return records;
}

let scratch: string;
let file: string;
let db: LogDatabase;
let sessionId: number;

const ODD_ACCESSORY = 'scarf, red "wool"\r\nknitted';

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'frame-export-'));
  file = path.join(scratch, 'frames.sqlite');
  db = openLog(file);
  sessionId = startSession(db, { pair: 'p1', cleanModel: 'c', backdoorModel: 'b', storeImages: true });
  const writer = new FrameLogWriter(db, sessionId);
  writer.add(face({ frameId: 1, image: new Uint8Array([1, 2, 3]) }));
  writer.add(face({ frameId: 1, faceIndex: 1, identity: null, worn: null, stripStatus: 'flagged', stripEntropy: 0.125, timings: { decodeMs: 1, trunkMs: 2, tailsMs: 3, stripMs: 400.5, totalMs: 6 } }));
  writer.add(face({ frameId: 2, worn: ODD_ACCESSORY, backdoor: { label: 'tom', probability: 0.97 } }));
  writer.flush();
});

afterAll(async () => {
  db.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('CSV fields', () => {
  it('quotes only what RFC 4180 requires, doubling quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField(null)).toBe('');
    expect(csvField(12.5)).toBe('12.5');
    expect(csvField(true)).toBe('true');
  });
});

describe('session export', () => {
  it('streams JSON Lines that parse, one face per line, without images', () => {
    const lines = [...sessionFacesJsonl(sessionFaces(file, sessionId))];
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
    const faces = lines.map((line) => JSON.parse(line) as LoggedFace);
    for (const f of faces) expect(Object.keys(f)).toEqual(EXPORT_COLUMNS);
    expect(faces[0]).toMatchObject({ sessionId, frameId: 1, faceIndex: 0, identity: 'alice', worn: 'none', attack: false, stripStatus: 'skipped', stripEntropy: null, stripMs: null });
    expect(faces[1]).toMatchObject({ identity: null, worn: null, stripStatus: 'flagged', stripEntropy: 0.125, stripMs: 400.5 });
    expect(faces[2]).toMatchObject({ worn: ODD_ACCESSORY, backdoorLabel: 'tom', backdoorProbability: 0.97, attack: true });
  });

  it('streams CSV whose header and rows parse back to the logged values', () => {
    const csv = [...sessionFacesCsv(sessionFaces(file, sessionId))].join('');
    const [header, ...rows] = parseCsv(csv);
    expect(header).toEqual(EXPORT_COLUMNS);
    const faces = [...sessionFaces(file, sessionId)];
    expect(rows).toEqual(faces.map((f) => EXPORT_COLUMNS.map((key) => (f[key] === null ? '' : String(f[key])))));
    expect(rows[2][EXPORT_COLUMNS.indexOf('worn')]).toBe(ODD_ACCESSORY);
  });

  it('reads on its own connection, so the live writer commits while an export is half-way', () => {
    const rows = sessionFaces(file, sessionId);
    expect(rows.next().value).toMatchObject({ frameId: 1 });
    const writer = new FrameLogWriter(db, sessionId);
    writer.add(face({ frameId: 3 }));
    expect(writer.flush()).toBe(1);
    rows.return(undefined);
  });

  it('fails at once for an unknown session, before any row is produced', () => {
    expect(() => sessionFaces(file, 999)).toThrow(UnknownSessionError);
    expect(() => sessionFaces(path.join(scratch, 'none.sqlite'), 1)).toThrow(/no frame log at/);
  });
});
