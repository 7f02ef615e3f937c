import type { Db } from '../platform/postgres';
import type { PiiCipher } from '../platform/crypto';

export interface CallTurn {
  role: 'caller' | 'agent';
  text: string;
  at: string;
  interrupted: boolean;
}

export interface CallLatency {
  sttMs: number | null;
  llmFirstTokenMs: number | null;
  ttsFirstByteMs: number | null;
  firstFrameMs: number | null;
  totalMs: number | null;
}

/** Call records: created at ring time, completed once (at `stop` or by the status callback). */
export class CallRepository {
  readonly #db: Db;
  readonly #cipher: PiiCipher;

  constructor(db: Db, cipher: PiiCipher) {
    this.#db = db;
    this.#cipher = cipher;
  }

  async start(c: {
    callSid: string;
    fromE164: string | null;
    fromMasked: string | null;
    customerId: string | null;
  }): Promise<void> {
    await this.#db.query(
      `INSERT INTO calls (call_sid, from_index, from_enc, from_masked, customer_id, pii_key_version)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_sid) DO NOTHING`,
      [
        c.callSid,
        c.fromE164 ? this.#cipher.blindIndex(c.fromE164) : null,
        this.#cipher.encryptNullable(c.fromE164),
        c.fromMasked,
        c.customerId,
        this.#cipher.currentVersion,
      ],
    );
  }

  /**
   * Writes the outcome, turns (encrypted) and latency once; a second finisher (status callback
   * after `stop`) changes nothing. Returns false when the call was already final.
   */
  async finish(c: {
    callSid: string;
    streamSid: string | null;
    outcome: string;
    customerId: string | null;
    turns: CallTurn[];
    latency: CallLatency[];
  }): Promise<boolean> {
    const version = this.#cipher.currentVersion;
    const encrypted = c.turns.map((t) => this.#cipher.encrypt(t.text));
    return this.#db.tx(async (q) => {
      const { rows } = await q.query<{ call_sid: string }>(
        `UPDATE calls SET status = 'completed', ended_at = now(), outcome = $2, stream_sid = COALESCE($3, stream_sid),
           latency = $4::jsonb, customer_id = COALESCE($5, customer_id)
         WHERE call_sid = $1 AND status = 'in_progress' RETURNING call_sid`,
        [c.callSid, c.outcome, c.streamSid, JSON.stringify(c.latency), c.customerId],
      );
      if (rows.length === 0) return false;
      for (let i = 0; i < c.turns.length; i++) {
        const t = c.turns[i] as CallTurn;
        await q.query(
          `INSERT INTO call_turns (call_sid, seq, role, text_enc, at, interrupted, pii_key_version)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
          [c.callSid, i + 1, t.role, encrypted[i], t.at, t.interrupted, version],
        );
      }
      return true;
    });
  }
}
