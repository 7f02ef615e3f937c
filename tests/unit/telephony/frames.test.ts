import {
  DEFAULT_FRAME_LIMITS,
  FrameErrorCode,
  OutboundEncoder,
  base64DecodedLength,
  decodePayloadInto,
  frameErrorToAppError,
  isFrameError,
  parseInboundFrame,
  type FrameError,
  type ParsedFrame,
} from '../../../server/telephony/frames';

const SID = 'MZ' + 'a'.repeat(32);
const AUDIO = Buffer.alloc(160, 0x7e);
const PAYLOAD = AUDIO.toString('base64');

const media = (over: Record<string, unknown> = {}, mediaOver: Record<string, unknown> = {}) => ({
  event: 'media',
  sequenceNumber: '4',
  media: { track: 'inbound', chunk: '2', timestamp: '5', payload: PAYLOAD, ...mediaOver },
  streamSid: SID,
  ...over,
});

const start = (startOver: Record<string, unknown> = {}) => ({
  event: 'start',
  sequenceNumber: '1',
  start: {
    accountSid: 'AC' + 'b'.repeat(32),
    streamSid: SID,
    callSid: 'CA' + 'c'.repeat(32),
    tracks: ['inbound'],
    mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    customParameters: { FirstName: 'Jane', LastName: 'Doe' },
    ...startOver,
  },
  streamSid: SID,
});

const parse = (msg: unknown) => parseInboundFrame(Buffer.from(JSON.stringify(msg)));

function expectError(frame: ParsedFrame, code: FrameErrorCode): FrameError {
  expect(isFrameError(frame)).toBe(true);
  const err = frame as FrameError;
  expect(err.code).toBe(code);
  return err;
}

describe('parseInboundFrame: valid messages', () => {
  it('connected', () => {
    const f = parseInboundFrame('{"event":"connected","protocol":"Call","version":"1.0.0"}');
    expect(f).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  });

  it('start, with custom parameters and media format', () => {
    const f = parse(start());
    if (f.event !== 'start') throw new Error(`expected start, got ${f.event}`);
    expect(f.start.callSid).toBe('CA' + 'c'.repeat(32));
    expect(f.start.customParameters).toEqual({ FirstName: 'Jane', LastName: 'Doe' });
    expect(f.start.tracks).toEqual(['inbound']);
    expect(f.streamSid).toBe(SID);
  });

  it('start without customParameters gets an empty object', () => {
    const msg = start();
    delete (msg.start as { customParameters?: unknown }).customParameters;
    const f = parse(msg);
    expect(f.event === 'start' && f.start.customParameters).toEqual({});
  });

  it('media, whose payload decodes into a reused buffer', () => {
    const f = parse(media());
    if (f.event !== 'media') throw new Error(`expected media, got ${f.event}`);
    expect(f.media).toEqual({ track: 'inbound', chunk: '2', timestamp: '5', payload: PAYLOAD });
    const scratch = Buffer.alloc(DEFAULT_FRAME_LIMITS.maxPayloadBytes);
    const n = decodePayloadInto(f.media.payload, scratch);
    expect(n).toBe(160);
    expect(scratch.subarray(0, n).equals(AUDIO)).toBe(true);
  });

  it('mark, dtmf and stop', () => {
    expect(
      parse({ event: 'mark', sequenceNumber: '4', streamSid: SID, mark: { name: 'my label' } }),
    ).toMatchObject({
      event: 'mark',
      mark: { name: 'my label' },
    });
    expect(
      parse({
        event: 'dtmf',
        streamSid: SID,
        sequenceNumber: '5',
        dtmf: { track: 'inbound_track', digit: '1' },
      }),
    ).toMatchObject({
      event: 'dtmf',
      dtmf: { digit: '1' },
    });
    expect(
      parse({
        event: 'stop',
        sequenceNumber: '5',
        stop: { accountSid: 'AC1', callSid: 'CA1' },
        streamSid: SID,
      }),
    ).toMatchObject({ event: 'stop', stop: { callSid: 'CA1' } });
  });
});

describe('parseInboundFrame: bad input is reported, never thrown', () => {
  it('malformed JSON', () => {
    expectError(parseInboundFrame('{"event":"media",'), FrameErrorCode.BadJson);
    expectError(parseInboundFrame(Buffer.from([0xff, 0xfe, 0x00])), FrameErrorCode.BadJson);
  });

  it('oversize messages, before any parsing', () => {
    const big = JSON.stringify(media({}, { payload: 'A'.repeat(9000) }));
    expectError(parseInboundFrame(Buffer.from(big)), FrameErrorCode.TooLarge);
    expectError(parseInboundFrame(big), FrameErrorCode.TooLarge);
    // Multi-byte characters count as bytes, not UTF-16 units.
    expectError(parseInboundFrame('"' + 'é'.repeat(4100) + '"'), FrameErrorCode.TooLarge);
  });

  it('binary frames', () => {
    expectError(parseInboundFrame(Buffer.from(JSON.stringify(media())), true), FrameErrorCode.Binary);
  });

  it('non-objects', () => {
    for (const raw of ['null', '[]', '42', '"media"'])
      expectError(parseInboundFrame(raw), FrameErrorCode.NotObject);
  });

  it('bad base64 payloads', () => {
    expectError(parse(media({}, { payload: 'abc' })), FrameErrorCode.BadPayload); // length not a multiple of 4
    expectError(parse(media({}, { payload: 'ab$d' })), FrameErrorCode.BadPayload); // outside the alphabet
    expectError(parse(media({}, { payload: 'ab=d' })), FrameErrorCode.BadPayload); // padding in the middle
    expectError(parse(media({}, { payload: 'a===' })), FrameErrorCode.BadPayload); // three pads
    expectError(parse(media({}, { payload: '' })), FrameErrorCode.BadPayload);
    expectError(parse(media({}, { payload: 'ab-_' })), FrameErrorCode.BadPayload); // base64url is not Twilio's
  });

  it('payloads decoding to more than the limit', () => {
    const long = Buffer.alloc(DEFAULT_FRAME_LIMITS.maxPayloadBytes + 3).toString('base64');
    expectError(parse(media({}, { payload: long })), FrameErrorCode.BadPayload);
    const tight = parseInboundFrame(JSON.stringify(media()), false, {
      maxMessageBytes: 8192,
      maxPayloadBytes: 100,
    });
    expectError(tight, FrameErrorCode.BadPayload);
  });

  it('wrong field types', () => {
    expectError(parse(media({ sequenceNumber: 4 })), FrameErrorCode.BadField);
    expectError(parse(media({ streamSid: undefined })), FrameErrorCode.BadField);
    expectError(parse(media({}, { chunk: 2 })), FrameErrorCode.BadField);
    expectError(parse(media({}, { timestamp: null })), FrameErrorCode.BadField);
    expectError(parse(media({}, { payload: 123 })), FrameErrorCode.BadField);
    expectError(parse(media({ media: 'x' })), FrameErrorCode.BadField);
    expectError(parse({ event: 5 }), FrameErrorCode.BadField);
    expectError(parse(start({ callSid: 7 })), FrameErrorCode.BadField);
    expectError(parse(start({ tracks: 'inbound' })), FrameErrorCode.BadField);
    expectError(parse(start({ customParameters: { a: 1 } })), FrameErrorCode.BadField);
    expectError(
      parse(start({ mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: '8000', channels: 1 } })),
      FrameErrorCode.BadField,
    );
    expectError(
      parse({ event: 'mark', sequenceNumber: '1', streamSid: SID, mark: {} }),
      FrameErrorCode.BadField,
    );
    expectError(
      parse({
        event: 'dtmf',
        sequenceNumber: '1',
        streamSid: SID,
        dtmf: { track: 'inbound_track', digit: '12' },
      }),
      FrameErrorCode.BadField,
    );
    expectError(parse({ event: 'stop', sequenceNumber: '1', streamSid: SID }), FrameErrorCode.BadField);
    expectError(parse({ event: 'connected', protocol: 'Call' }), FrameErrorCode.BadField);
  });

  it('media formats other than 8 kHz mono mu-law', () => {
    const err = expectError(
      parse(start({ mediaFormat: { encoding: 'audio/l16', sampleRate: 16000, channels: 1 } })),
      FrameErrorCode.BadMediaFormat,
    );
    expect(err.claimedEvent).toBe('start');
  });

  it('unknown events, named', () => {
    const err = expectError(parse({ event: 'transcript', streamSid: SID }), FrameErrorCode.UnknownEvent);
    expect(err.claimedEvent).toBe('transcript');
    expect(err.event).toBe('invalid');
  });

  it('maps to the product error base with a stable code', () => {
    const err = expectError(parseInboundFrame('nope'), FrameErrorCode.BadJson);
    const app = frameErrorToAppError(err);
    expect(app.code).toBe('MEDIA_FRAME_BAD_JSON');
    expect(app.statusCode).toBe(400);
  });
});

describe('parseInboundFrame: the fast path for Twilio-shaped media frames', () => {
  // Buffers (what ws hands over) take the fast path when the frame is exactly Twilio-shaped; strings
  // always take JSON.parse. Both must agree on every input.
  const both = (json: string) => [parseInboundFrame(Buffer.from(json)), parseInboundFrame(json)] as const;

  it('gives what JSON.parse gives, for every payload length and padding and for large counters', () => {
    for (let bytes = 1; bytes <= 320; bytes += 1) {
      const payload = Buffer.alloc(bytes, bytes % 251).toString('base64');
      const json = JSON.stringify(
        media(
          { sequenceNumber: String(bytes * 1_000_003) },
          { payload, chunk: String(bytes), timestamp: '999999999' },
        ),
      );
      const [fast, general] = both(json);
      expect(fast).toEqual(general);
      expect(Object.keys(fast)).toEqual(Object.keys(general));
      expect(isFrameError(fast)).toBe(false);
    }
  });

  it('leaves anything not exactly Twilio-shaped to the general path, with the same verdict', () => {
    const canonical = JSON.stringify(media());
    const { streamSid: _sid, ...withoutSid } = media();
    const variants = [
      canonical.replace('{"event":"media",', '{ "event": "media", '), // whitespace
      JSON.stringify({ streamSid: SID, ...withoutSid }), // another field order
      JSON.stringify({ ...media(), extra: 1 }), // an extra field
      canonical.replace('"chunk":"2"', '"chunk":"\\u0032"'), // an escape
      canonical.replace(SID, 'MZ-é'), // non-ASCII sid
      canonical.replace('"track":"inbound"', '"track":"INBOUND"'),
      canonical.replace(PAYLOAD, 'abc'),
      canonical.replace(PAYLOAD, 'a==='),
      canonical.replace(PAYLOAD, 'ab=d'),
      canonical.replace(PAYLOAD, ''),
      canonical.replace(PAYLOAD, Buffer.alloc(DEFAULT_FRAME_LIMITS.maxPayloadBytes + 1).toString('base64')),
      canonical.replace('"sequenceNumber":"4"', '"sequenceNumber":4'),
      canonical.slice(0, -1), // truncated
      canonical + ' ', // trailing space is still JSON
    ];
    for (const json of variants) {
      const [fast, general] = both(json);
      expect(fast).toEqual(general);
    }
  });

  it('respects a tighter payload limit', () => {
    const limits = { maxMessageBytes: 8192, maxPayloadBytes: 100 };
    const frame = parseInboundFrame(Buffer.from(JSON.stringify(media())), false, limits);
    expectError(frame, FrameErrorCode.BadPayload);
  });
});

describe('base64DecodedLength', () => {
  it('computes decoded sizes without decoding', () => {
    for (const n of [1, 2, 3, 4, 159, 160, 161]) {
      expect(base64DecodedLength(Buffer.alloc(n, 9).toString('base64'))).toBe(n);
    }
  });
});

describe('OutboundEncoder', () => {
  const enc = new OutboundEncoder(SID);

  it('builds media, mark and clear messages in Twilio shape', () => {
    expect(JSON.parse(enc.media(AUDIO))).toEqual({
      event: 'media',
      streamSid: SID,
      media: { payload: PAYLOAD },
    });
    expect(JSON.parse(enc.mark('s1'))).toEqual({ event: 'mark', streamSid: SID, mark: { name: 's1' } });
    expect(JSON.parse(enc.clear())).toEqual({ event: 'clear', streamSid: SID });
    expect(JSON.parse(enc.mediaBase64('/w=='))).toEqual({
      event: 'media',
      streamSid: SID,
      media: { payload: '/w==' },
    });
  });

  it('encodes a sub-range of a buffer in place', () => {
    const buf = Buffer.from([1, 2, 3, 4, 5, 6]);
    const msg = JSON.parse(enc.media(buf, 2, 5)) as { media: { payload: string } };
    expect([...Buffer.from(msg.media.payload, 'base64')]).toEqual([3, 4, 5]);
  });

  it('escapes mark names and stream sids as JSON', () => {
    const odd = new OutboundEncoder('MZ"\\');
    const name = 'a "quoted" \\ name\n';
    expect(JSON.parse(odd.mark(name))).toEqual({ event: 'mark', streamSid: 'MZ"\\', mark: { name } });
  });

  it('produces messages the inbound parser would accept as Twilio echoes them', () => {
    const echo = JSON.parse(enc.mark('s2')) as Record<string, unknown>;
    expect(parse({ ...echo, sequenceNumber: '9' })).toMatchObject({ event: 'mark', mark: { name: 's2' } });
  });
});
