/** Tiny measurement helpers for `npm run bench`: warm up, run N times, report percentiles in ms. */
export interface Stats {
  name: string;
  n: number;
  p50: number;
  p99: number;
  max: number;
  opsPerSec: number;
}

export async function measure(
  name: string,
  n: number,
  fn: (i: number) => Promise<unknown>,
  warmup = Math.min(200, n),
): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const samples = new Float64Array(n);
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    samples[i] = performance.now() - t;
  }
  const total = performance.now() - started;
  samples.sort();
  const at = (q: number) => samples[Math.min(n - 1, Math.floor(q * n))] ?? 0;
  return { name, n, p50: at(0.5), p99: at(0.99), max: samples[n - 1] ?? 0, opsPerSec: (n / total) * 1000 };
}

export function measureSync(name: string, n: number, fn: (i: number) => unknown): Stats {
  for (let i = 0; i < Math.min(10_000, n); i++) fn(i);
  const started = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const total = performance.now() - started;
  const perOp = total / n;
  return { name, n, p50: perOp, p99: perOp, max: perOp, opsPerSec: (n / total) * 1000 };
}

export function printTable(rows: Stats[]): void {
  const fmt = (v: number) => (v < 0.01 ? v.toFixed(4) : v.toFixed(3));
  console.log(
    `${'benchmark'.padEnd(40)} ${'n'.padStart(8)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'max ms'.padStart(9)} ${'ops/s'.padStart(12)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(40)} ${String(r.n).padStart(8)} ${fmt(r.p50).padStart(9)} ${fmt(r.p99).padStart(9)} ${fmt(r.max).padStart(9)} ${Math.round(r.opsPerSec).toString().padStart(12)}`,
    );
  }
}
