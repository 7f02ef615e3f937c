/** Calls: a list with outcome and latency, one call with its transcript, and the live view. */
import type { CallJson, CallSummaryJson, LiveCallJson } from '../present';
import { html, query, type Html } from './html';
import { shortTime } from './layout';

const OUTCOME_LABEL: Record<string, string> = {
  booked: 'Booked',
  rescheduled: 'Rescheduled',
  cancelled: 'Cancelled',
  info: 'Information',
  transferred: 'Transferred',
  message: 'Message taken',
  abandoned: 'Abandoned',
  failed: 'Failed',
};

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? null;
}

const ms = (v: number | null) => (v === null ? '—' : `${Math.round(v)} ms`);

/** Median and worst total turn latency: the figure staff can compare between calls. */
export function latencySummary(latency: CallSummaryJson['latency']): string {
  const totals = latency.map((l) => l.totalMs).filter((v): v is number => v !== null);
  if (totals.length === 0) return '—';
  return `${ms(median(totals))} (max ${ms(Math.max(...totals))})`;
}

const outcome = (c: { status: string; outcome: string | null }) =>
  c.status === 'in_progress' ? 'In progress' : (OUTCOME_LABEL[c.outcome ?? ''] ?? 'Unknown');

export interface CallsListModel {
  from: string;
  to: string;
  calls: CallSummaryJson[];
  /** More (older) calls in the range than this page shows; `nextCursor` fetches them. */
  truncated?: boolean;
  nextCursor?: string | null;
  /** This is a later page, not the range's newest calls. */
  paged?: boolean;
}

/** Links to the rest of the range: the next (older) page, and back to the newest calls. */
function pagerLinks(m: CallsListModel): Html {
  return html`${m.paged ? html`<a href="/dashboard/calls${query({ from: m.from, to: m.to })}">← Newest calls</a>` : ''}
  ${
    m.truncated && m.nextCursor
      ? html`<a href="/dashboard/calls${query({ from: m.from, to: m.to, cursor: m.nextCursor })}"
          >Older calls →</a
        >`
      : ''
  }`;
}

/** The list is not the whole range: say so above it, and link to the rest above and below it. */
function pager(m: CallsListModel, where: 'top' | 'bottom'): Html | '' {
  const more = Boolean(m.truncated && m.nextCursor);
  if (!more && !m.paged) return '';
  if (where === 'bottom')
    return m.calls.length ? html`<nav class="pager" aria-label="More calls">${pagerLinks(m)}</nav>` : '';
  return html`<p class="pager" role="status">
    ${more ? html`Showing ${m.calls.length} calls, newest first: more calls rang between ${m.from} and ${m.to}.` : ''}
    ${pagerLinks(m)}
  </p>`;
}

export function callsList(m: CallsListModel): Html {
  const rows = m.calls.map(
    (c) =>
      html`<tr>
        <td><a href="/dashboard/calls/${encodeURIComponent(c.callSid)}">${shortTime(c.startedAt)}</a></td>
        <td>${c.fromMasked ?? 'Unknown number'}</td>
        <td>${outcome(c)}</td>
        <td class="num">${c.turnCount}</td>
        <td class="num">${latencySummary(c.latency)}</td>
      </tr>`,
  );
  return html`<form method="get" action="/dashboard/calls" class="toolbar inline">
      <label for="from">From</label>
      <input id="from" name="from" type="date" value="${m.from}" required />
      <label for="to">To</label>
      <input id="to" name="to" type="date" value="${m.to}" required />
      <button type="submit">Show</button>
    </form>
    ${pager(m, 'top')}
    ${
      m.calls.length === 0
        ? html`<p class="empty">No ${m.paged ? 'more ' : ''}calls between ${m.from} and ${m.to}.</p>`
        : html`<div class="table-wrap">
            <table class="list">
              <caption class="visually-hidden">
                Calls from ${m.from} to ${m.to}, newest first
              </caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">From</th>
                  <th scope="col">Outcome</th>
                  <th scope="col" class="num">Turns</th>
                  <th scope="col" class="num">Turn latency (median)</th>
                </tr>
              </thead>
              <tbody>
                ${rows}
              </tbody>
            </table>
          </div>`
    }
    ${pager(m, 'bottom')}`;
}

export function callDetail(c: CallJson): Html {
  const latencyRows = c.latency.map(
    (l, i) =>
      html`<tr>
        <th scope="row">${i + 1}</th>
        <td class="num">${ms(l.sttMs)}</td>
        <td class="num">${ms(l.llmFirstTokenMs)}</td>
        <td class="num">${ms(l.ttsFirstByteMs)}</td>
        <td class="num">${ms(l.firstFrameMs)}</td>
        <td class="num">${ms(l.totalMs)}</td>
      </tr>`,
  );
  const turns = c.turns.map(
    (t) =>
      html`<li class="turn ${t.role}">
        <p class="who">
          ${t.role === 'caller' ? 'Caller' : 'Agent'} <time datetime="${t.at}">${t.at.slice(11, 19)}</time>
          ${t.interrupted ? html`<span class="tag">interrupted</span>` : ''}
        </p>
        <p class="text">${t.text}</p>
      </li>`,
  );
  return html`<p>
      <a href="/dashboard/calls${query({ from: c.startedAt.slice(0, 10), to: c.startedAt.slice(0, 10) })}"
        >← Calls of ${c.startedAt.slice(0, 10)}</a
      >
    </p>
    <dl class="facts">
      <dt>Call</dt>
      <dd><code>${c.callSid}</code></dd>
      <dt>From</dt>
      <dd>${c.fromMasked ?? 'Unknown number'}</dd>
      <dt>Started</dt>
      <dd>${shortTime(c.startedAt)}</dd>
      <dt>Ended</dt>
      <dd>${shortTime(c.endedAt)}</dd>
      <dt>Outcome</dt>
      <dd>${outcome(c)}</dd>
      <dt>Latency</dt>
      <dd>${latencySummary(c.latency)}</dd>
    </dl>
    <h2>Transcript</h2>
    ${
      turns.length
        ? html`<ol class="transcript">
            ${turns}
          </ol>`
        : html`<p class="empty">No transcript yet.</p>`
    }
    ${
      latencyRows.length
        ? html`<h2>Latency per turn</h2>
            <div class="table-wrap">
              <table class="list">
                <thead>
                  <tr>
                    <th scope="col">Turn</th>
                    <th scope="col" class="num">Speech end → text</th>
                    <th scope="col" class="num">Model first token</th>
                    <th scope="col" class="num">Voice first byte</th>
                    <th scope="col" class="num">First audio out</th>
                    <th scope="col" class="num">Total</th>
                  </tr>
                </thead>
                <tbody>
                  ${latencyRows}
                </tbody>
              </table>
            </div>`
        : ''
    }`;
}

export function liveRows(calls: LiveCallJson[]): Html[] {
  return calls.map(
    (c) =>
      html`<tr>
        <td>
          <a href="/dashboard/calls/${encodeURIComponent(c.callSid)}"><code>${c.callSid.slice(-8)}</code></a>
        </td>
        <td>${c.startedAt ? c.startedAt.slice(11, 19) : '—'}</td>
        <td>${c.state}${c.speaking ? ' (agent speaking)' : ''}</td>
        <td>${c.intent ?? '—'}</td>
        <td>${c.customerKnown ? 'Known customer' : 'New caller'}</td>
      </tr>`,
  );
}

export function liveView(pollMs: number, calls: LiveCallJson[]): Html {
  return html`<p id="live-status" role="status" aria-live="polite">
      ${calls.length} call${calls.length === 1 ? '' : 's'} in progress
    </p>
    <div class="table-wrap">
      <table class="list" id="live-calls" data-poll-ms="${pollMs}" data-source="/api/live-calls">
        <caption class="visually-hidden">
          Calls in progress, refreshed automatically
        </caption>
        <thead>
          <tr>
            <th scope="col">Call</th>
            <th scope="col">Started</th>
            <th scope="col">State</th>
            <th scope="col">Intent</th>
            <th scope="col">Caller</th>
          </tr>
        </thead>
        <tbody>
          ${liveRows(calls)}
        </tbody>
      </table>
    </div>
    <noscript><p>This view refreshes itself with JavaScript; reload the page to update it.</p></noscript>`;
}
