/**
 * The simulated caller's microphone reports how late each frame left against its place on the
 * media timeline: the load test uses it to tell a real-time load from a generator that fell behind.
 */
import { FrameTicker } from '../../../server/telephony/ticker';
import { CallerMic } from '../../support/caller-mic';
import { FakeClock } from '../../support/fake-clock';

function mic(): { clock: FakeClock; sent: string[]; lags: number[]; mic: CallerMic } {
  const clock = new FakeClock(1000);
  const sent: string[] = [];
  const lags: number[] = [];
  const m = new CallerMic(
    new FrameTicker({ clock }),
    true,
    (_payload, _chunk, timestamp) => sent.push(timestamp),
    (lagMs) => lags.push(lagMs),
  );
  return { clock, sent, lags, mic: m };
}

describe('CallerMic send lag', () => {
  it('reports each frame once, on time while its ticks are on time', () => {
    const { clock, sent, lags, mic: m } = mic();
    m.start();
    clock.advance(20);
    // The stream's first frame is due when it starts; the clock's first tick is one frame later.
    expect(sent).toEqual(['0', '20']);
    expect(lags).toEqual([20, 0]);
    clock.advance(40);
    expect(sent).toEqual(['0', '20', '40', '60']);
    expect(lags).toEqual([20, 0, 0, 0]);
    m.stop();
  });

  it('reports the catch-up frames after a blocked loop as late by how long each waited', () => {
    const { clock, sent, lags, mic: m } = mic();
    m.start();
    clock.advance(60);
    lags.length = 0;
    // Frames due at 80, 100 and 120 ms of the stream go out together at 130 ms.
    clock.stall(70);
    clock.advance(0);
    expect(sent.slice(-3)).toEqual(['80', '100', '120']);
    expect(lags).toEqual([50, 30, 10]);
    m.stop();
  });

  it('sends the frame of a tick whose timer fired just before its grid time, as Twilio would', () => {
    const { sent, lags, mic: m } = mic();
    m.start();
    // libuv fires timers up to ~1 ms early: the tick stands for 20 ms but runs at 19.4 ms.
    m.onTick(1019.4, 1020);
    expect(sent).toEqual(['0', '20']);
    expect(lags.map((l) => Math.round(l * 10) / 10)).toEqual([19.4, 0]);
    m.onTick(1039.5, 1040);
    m.onTick(1059.9, 1060);
    expect(sent).toEqual(['0', '20', '40', '60']);
    expect(lags.slice(2)).toEqual([0, 0]);
    m.stop();
  });
});
