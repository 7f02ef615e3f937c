import { OutboundEncoder } from '../../../server/telephony/frames';
import { OutboundPacer } from '../../../server/telephony/pacer';
import { FrameTicker } from '../../../server/telephony/ticker';
import { FakeClock } from '../../support/fake-clock';

interface Sent {
  readonly at: number;
  readonly event: string;
  readonly bytes: number;
  readonly name?: string;
  readonly audio?: Buffer;
}

function rig(leadMs = 120, frameMs?: number) {
  const clock = new FakeClock();
  const ticker = new FrameTicker({ clock });
  const sent: Sent[] = [];
  const pacer = new OutboundPacer({
    encoder: new OutboundEncoder('MZ1'),
    leadMs,
    ticker,
    ...(frameMs === undefined ? {} : { frameMs }),
    send: (json) => {
      const m = JSON.parse(json) as { event: string; media?: { payload: string }; mark?: { name: string } };
      const audio = m.media ? Buffer.from(m.media.payload, 'base64') : undefined;
      sent.push({ at: clock.now(), event: m.event, bytes: audio?.length ?? 0, name: m.mark?.name, audio });
    },
  });
  return { clock, ticker, pacer, sent };
}

const audio = (ms: number, fill = 0x10) => Buffer.alloc(ms * 8, fill);

/** Replays what Twilio would hold: returns the lead (ms buffered ahead of playback) after each send. */
function leadsAfterSends(sent: Sent[]): { at: number; lead: number }[] {
  let playEnd = 0;
  return sent
    .filter((s) => s.event === 'media')
    .map((s) => {
      playEnd = Math.max(playEnd, s.at) + s.bytes / 8;
      return { at: s.at, lead: playEnd - s.at };
    });
}

describe('OutboundPacer', () => {
  it('sends a lead at once, then one 20 ms frame per tick', () => {
    const { clock, pacer, sent } = rig(120);
    const t0 = clock.now();
    pacer.push(audio(1000));
    // Up to lead + one frame goes out synchronously: first audio leaves with no tick wait.
    const initial = sent.filter((s) => s.at === t0);
    expect(initial).toHaveLength(7);
    clock.advance(2000);
    const frames = sent.filter((s) => s.event === 'media');
    expect(frames).toHaveLength(50);
    expect(frames.every((f) => f.bytes === 160)).toBe(true);
    const later = frames.slice(7).map((f) => f.at - t0);
    expect(later).toEqual(later.map((_, i) => 20 * (i + 1)));
    expect(pacer.stats).toMatchObject({ framesSent: 50, audioMsSent: 1000, lateFrames: 0 });
  });

  it('keeps the lead bounded near its target, never seconds', () => {
    const { clock, pacer, sent } = rig(120);
    pacer.push(audio(3000));
    for (let i = 0; i < 100; i++) clock.advance(20);
    const leads = leadsAfterSends(sent);
    expect(Math.max(...leads.map((l) => l.lead))).toBeLessThanOrEqual(140);
    // Once primed, Twilio never holds less than lead - one tick.
    expect(Math.min(...leads.slice(7).map((l) => l.lead - 20))).toBeGreaterThanOrEqual(100);
    expect(pacer.bufferedMs).toBeLessThanOrEqual(140);
    expect(pacer.queuedMs).toBe(3000 - 140 - 100 * 20);
  });

  it('puts each mark right after its audio, with a short frame when the audio ends mid-frame', () => {
    const { clock, pacer, sent } = rig(120);
    pacer.push(audio(500 / 8)); // 500 bytes: 3 frames + 20 bytes
    pacer.mark('s1');
    pacer.push(audio(40));
    pacer.mark('s2');
    clock.advance(1000);
    expect(sent.map((s) => (s.event === 'mark' ? `mark:${s.name}` : s.bytes))).toEqual([
      160,
      160,
      160,
      20,
      'mark:s1',
      160,
      160,
      'mark:s2',
    ]);
    expect(pacer.stats.marksSent).toBe(2);
  });

  it('assembles frames across chunks without losing or reordering bytes', () => {
    const { clock, pacer, sent } = rig(120);
    pacer.push(audio(200, 0x01)); // primes the lead so later partial chunks wait for more
    const chunks = [0x02, 0x03, 0x04, 0x05, 0x06].map((b) => Buffer.alloc(100, b));
    for (const c of chunks) pacer.push(c);
    clock.advance(1000);
    const all = Buffer.concat(sent.filter((s) => s.audio).map((s) => s.audio as Buffer));
    expect(all.equals(Buffer.concat([audio(200, 0x01), ...chunks]))).toBe(true);
    const sizes = sent.map((s) => s.bytes);
    expect(sizes.filter((n) => n !== 160)).toEqual([20]); // only the tail is short
  });

  it('with 40 ms messages sends half as many, keeps the lead in one message of its target, loses no byte', () => {
    const { clock, pacer, sent } = rig(180, 40);
    const t0 = clock.now();
    const source = Buffer.alloc(3000 * 8);
    for (let i = 0; i < source.length; i++) source[i] = i % 251;
    pacer.push(source.subarray(0, 10_000));
    pacer.push(source.subarray(10_000));
    pacer.mark('end');
    clock.advance(4000);
    const media = sent.filter((s) => s.event === 'media');
    expect(media).toHaveLength(75);
    expect(media.every((m) => m.bytes === 320)).toBe(true);
    expect(Buffer.concat(media.map((m) => m.audio as Buffer)).equals(source)).toBe(true);
    expect(sent.at(-1)).toMatchObject({ event: 'mark', name: 'end' });
    const leads = leadsAfterSends(sent);
    // Primed at once with lead + one message; then Twilio holds between lead - 1 tick and lead + 1 message.
    expect(sent.filter((s) => s.at === t0)).toHaveLength(5);
    const steady = leads.filter((l) => l.at > t0 && l.at < t0 + 2500);
    expect(Math.max(...steady.map((l) => l.lead))).toBeLessThanOrEqual(220);
    expect(Math.min(...steady.map((l) => l.lead - 40))).toBeGreaterThanOrEqual(160);
    expect(pacer.stats).toMatchObject({ framesSent: 75, audioMsSent: 3000, lateFrames: 0 });
  });

  it('with 40 ms messages a tail shorter than a message goes out before the mark that follows it', () => {
    const { clock, pacer, sent } = rig(120, 40);
    pacer.push(audio(100)); // 800 bytes: 2 messages + 160
    pacer.mark('s1');
    clock.advance(500);
    expect(sent.map((s) => (s.event === 'mark' ? `mark:${s.name}` : s.bytes))).toEqual([
      320,
      320,
      160,
      'mark:s1',
    ]);
  });

  it('sends a tail shorter than a message when it is due, not when Twilio is about to run dry', () => {
    const { clock, pacer, sent } = rig(180, 40);
    pacer.push(audio(320));
    pacer.push(Buffer.alloc(100, 0x22));
    clock.advance(1000);
    const leads = leadsAfterSends(sent);
    const tail = sent.findIndex((s) => s.bytes === 100);
    expect(tail).toBe(sent.length - 1);
    // Twilio held the lead (less one tick) when the tail left, not the last few milliseconds.
    expect((leads[tail]?.lead ?? 0) - 12.5).toBeGreaterThanOrEqual(180 - 20);
    expect(pacer.stats).toMatchObject({ lateFrames: 0, audioMsSent: 332.5 });
    expect(pacer.stats.maxLatenessMs).toBeLessThan(1);
  });

  it('joins a tail to the next chunk when that arrives before the tail is due', () => {
    const { clock, pacer, sent } = rig(180, 40);
    pacer.push(audio(320));
    pacer.push(Buffer.alloc(100, 0x22));
    clock.advance(40);
    pacer.push(audio(500, 0x33));
    clock.advance(2000);
    const media = sent.filter((s) => s.event === 'media');
    expect(media.slice(0, -1).every((m) => m.bytes === 320)).toBe(true);
    expect(media.reduce((n, m) => n + m.bytes, 0)).toBe(6660);
    expect(pacer.stats.lateFrames).toBe(0);
  });

  it('a frame sent off a tick, before the tick it was due on, is not counted late', () => {
    const { clock, ticker, pacer } = rig(180, 40);
    // The ticker is shared: another call set its grid; this call's audio starts 7 ms off it, so its
    // frames fall due between ticks.
    const other = new OutboundPacer({ encoder: new OutboundEncoder('MZ2'), ticker, send: () => undefined });
    other.push(audio(5000));
    clock.advance(7);
    pacer.push(audio(3000));
    // Audio trickles in between ticks (TTS chunks): each push may send a frame due at the next tick.
    for (let t = 0; t < 2500; t += 7) {
      clock.advance(7);
      pacer.push(audio(2));
    }
    expect(pacer.stats.framesSent).toBeGreaterThan(60);
    expect(pacer.stats.maxLatenessMs).toBeLessThan(1);
    expect(pacer.stats.lateFrames).toBe(0);
  });

  it('clear drops unsent audio and marks, reports marks still playing, and sends clear last', () => {
    const { clock, ticker, pacer, sent } = rig(120);
    const t0 = clock.now();
    pacer.push(audio(400));
    pacer.mark('a');
    pacer.push(audio(400));
    pacer.mark('b');
    pacer.push(audio(400));
    pacer.mark('c');
    clock.advance(350);
    expect(sent.some((s) => s.name === 'a')).toBe(true);
    expect(pacer.inFlightMarks).toEqual(['a']); // plays until t0 + 400
    const result = pacer.clear();
    expect(result.droppedMarks).toEqual(['b', 'c']);
    expect(result.unplayedMarks).toEqual(['a']);
    // Sent by t0 + 350: the 140 ms lead plus one frame on each of the 17 ticks at 20…340 ms.
    expect(result.droppedAudioMs).toBe(1200 - (140 + 17 * 20));
    expect(sent[sent.length - 1]?.event).toBe('clear');
    const count = sent.length;
    clock.advance(1000);
    expect(sent).toHaveLength(count);
    expect(ticker.size).toBe(0);
    expect(clock.now() - t0).toBe(1350);
  });

  it('clear after a mark has played does not report it as unplayed', () => {
    const { clock, pacer } = rig(120);
    pacer.push(audio(400));
    pacer.mark('a');
    pacer.push(audio(400));
    clock.advance(450);
    const result = pacer.clear();
    expect(result.unplayedMarks).toEqual([]);
    expect(result.droppedMarks).toEqual([]);
  });

  it('audio pushed after a clear starts a fresh lead at once', () => {
    const { clock, pacer, sent } = rig(120);
    pacer.push(audio(1000));
    clock.advance(100);
    pacer.clear();
    const before = sent.length;
    pacer.push(audio(200));
    expect(sent.length - before).toBe(7);
  });

  it('counts frames sent after a blocked event loop as late', () => {
    const { clock, pacer } = rig(120);
    pacer.push(audio(2000));
    clock.advance(200);
    expect(pacer.stats.lateFrames).toBe(0);
    expect([...pacer.jitterSamples()].every((j) => j === 0)).toBe(true);
    clock.stall(250);
    clock.advance(0);
    expect(pacer.stats.lateFrames).toBeGreaterThan(0);
    expect(pacer.stats.maxLatenessMs).toBeGreaterThanOrEqual(200);
    expect(Math.max(...pacer.jitterSamples())).toBe(pacer.stats.maxLatenessMs);
  });

  it('a timer that fires slightly before its grid time still sends the frame due then', () => {
    // libuv keeps whole-millisecond time cached per loop iteration: real timers often fire early.
    const fake = new FakeClock();
    const early = {
      now: () => fake.now(),
      setTimeout: (fn: () => void, ms: number) => fake.setTimeout(fn, Math.max(0, ms - 0.7)),
      clearTimeout: (h: unknown) => fake.clearTimeout(h),
    };
    const ticker = new FrameTicker({ clock: early });
    const times: number[] = [];
    const pacer = new OutboundPacer({
      encoder: new OutboundEncoder('MZ1'),
      ticker,
      send: () => void times.push(fake.now()),
    });
    pacer.push(audio(1000));
    fake.advance(2000);
    expect(times).toHaveLength(50);
    const gaps = times.slice(7).map((t, i) => t - (times[i + 6] as number));
    expect(Math.max(...gaps)).toBeLessThan(21);
    expect(pacer.stats.maxLatenessMs).toBeLessThan(1);
  });

  it('reports lateness per frame to a sink', () => {
    const clock = new FakeClock();
    const ticker = new FrameTicker({ clock });
    const samples: number[] = [];
    const pacer = new OutboundPacer({
      encoder: new OutboundEncoder('MZ1'),
      ticker,
      send: () => undefined,
      onFrame: (l) => samples.push(l),
    });
    pacer.push(audio(300));
    clock.advance(400);
    expect(samples).toHaveLength(15);
  });

  it('idle pacers cost nothing, and 500 busy pacers share one timer', () => {
    const clock = new FakeClock();
    const ticker = new FrameTicker({ clock });
    let messages = 0;
    const pacers = Array.from(
      { length: 500 },
      (_, i) =>
        new OutboundPacer({ encoder: new OutboundEncoder(`MZ${i}`), ticker, send: () => void messages++ }),
    );
    expect(clock.pendingTimers).toBe(0);
    for (const p of pacers) p.push(audio(300));
    expect(ticker.size).toBe(500);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(1000);
    expect(messages).toBe(500 * 15);
    expect(ticker.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(pacers.every((p) => p.idle)).toBe(true);
  });

  it('close stops everything and ignores later audio', () => {
    const { clock, ticker, pacer, sent } = rig(120);
    pacer.push(audio(1000));
    pacer.close();
    const count = sent.length;
    pacer.push(audio(100));
    pacer.mark('x');
    clock.advance(500);
    expect(sent).toHaveLength(count);
    expect(ticker.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('FrameTicker', () => {
  it('ticks on a fixed grid, correcting for a late timer instead of drifting', () => {
    const clock = new FakeClock(0);
    const ticker = new FrameTicker({ clock });
    const ticks: { now: number; ideal: number }[] = [];
    ticker.add({ onTick: (now, ideal) => void ticks.push({ now, ideal }) });
    clock.advance(60);
    clock.stall(27); // the 80 ms tick fires 7 ms late
    clock.advance(0);
    clock.advance(40);
    expect(ticks.map((t) => t.ideal)).toEqual([20, 40, 60, 80, 100, 120]);
    expect(ticks[3]?.now).toBe(87);
    expect(ticks[4]?.now).toBe(100);
    expect(ticker.stats.maxLatenessMs).toBe(7);
  });

  it('skips ticks missed by a long stall and counts them', () => {
    const clock = new FakeClock(0);
    const ticker = new FrameTicker({ clock });
    const ideals: number[] = [];
    ticker.add({ onTick: (_now, ideal) => void ideals.push(ideal) });
    clock.advance(20);
    clock.stall(105);
    clock.advance(0);
    expect(ideals).toEqual([20, 120]);
    expect(ticker.stats.missedTicks).toBe(4);
  });

  it('poll runs a tick whose grid time has passed, once, and keeps the grid', () => {
    const clock = new FakeClock(0);
    const ticker = new FrameTicker({ clock });
    const ticks: { now: number; ideal: number }[] = [];
    ticker.add({ onTick: (now, ideal) => void ticks.push({ now, ideal }) });
    clock.stall(19.5);
    ticker.poll(); // not yet due
    expect(ticks).toEqual([]);
    clock.stall(0.7); // a burst of socket reads is running: the timer cannot fire
    ticker.poll();
    expect(ticks).toEqual([{ now: 20.2, ideal: 20 }]);
    ticker.poll(); // the next tick is 20 ms away
    expect(ticks).toHaveLength(1);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(19.8); // the timer fires for 40 and nothing fires twice
    expect(ticks.map((t) => t.ideal)).toEqual([20, 40]);
    expect(ticker.stats.missedTicks).toBe(0);
    ticker.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('poll does nothing while stopped or from inside a tick', () => {
    const clock = new FakeClock(0);
    const ticker = new FrameTicker({ clock });
    clock.stall(100);
    ticker.poll(); // nothing registered: no timer, no tick
    expect(clock.pendingTimers).toBe(0);
    let ticks = 0;
    ticker.add({
      onTick: () => {
        ticks++;
        clock.stall(25); // a slow member; polling from inside must not re-enter
        ticker.poll();
      },
    });
    clock.advance(20);
    expect(ticks).toBe(1);
  });

  it('hands each member the time of its own turn in the tick', () => {
    const clock = new FakeClock(0);
    const ticker = new FrameTicker({ clock });
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      ticker.add({
        onTick: (now) => {
          seen.push(now);
          clock.stall(1.5); // each member's sends take time
        },
      });
    }
    clock.advance(20);
    expect(seen).toEqual([20, 21.5, 23]);
  });

  it('drops a member that throws and keeps ticking the others', () => {
    const clock = new FakeClock(0);
    const errors: unknown[] = [];
    const ticker = new FrameTicker({ clock, onError: (err) => errors.push(err) });
    let good = 0;
    ticker.add({
      onTick: () => {
        throw new Error('socket gone');
      },
    });
    ticker.add({ onTick: () => void good++ });
    clock.advance(60);
    expect(errors).toHaveLength(1);
    expect(good).toBe(3);
    expect(ticker.size).toBe(1);
    ticker.close();
    expect(clock.pendingTimers).toBe(0);
  });
});
