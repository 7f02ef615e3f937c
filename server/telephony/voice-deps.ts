import type { Logger } from '../platform/logger';
import type { Metrics } from '../platform/metrics';
import type { SessionStore } from '../sessions';
import type { CustomerDirectory, CustomerView } from '../customers';
import type { CallRepository } from '../calls';
import type { LlmProvider, SttProvider, TtsProvider } from '../providers/types';
import type { PhraseCache } from '../conversation/phrases';
import type { ToolRunner } from '../conversation/ports';
import type { DealershipFacts } from '../conversation/prompts';
import type { CallRegistry } from './call-registry';
import type { ClusterLink } from './handoff';
import type { TwilioSignatureVerifier } from './signature';

/** The Twilio REST calls the product makes; implemented under providers/twilio. */
export interface TelephonyRest {
  updateCallTwiml(callSid: string, twiml: string): Promise<unknown>;
  completeCall(callSid: string): Promise<unknown>;
  sendSms(to: string, from: string, body: string): Promise<unknown>;
}

/** Everything the voice routes and media sockets need, built once by the composition root. */
export interface VoiceDeps {
  log: Logger;
  metrics: Metrics;
  sessions: SessionStore;
  customers: CustomerDirectory;
  calls: CallRepository;
  registry: CallRegistry;
  verifier: TwilioSignatureVerifier;
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  phrases: PhraseCache;
  rest: TelephonyRest;
  transferNumber: string;
  instanceId: string;
  sessionTtlMs: number;
  dealership(): Promise<DealershipFacts>;
  /** Tools bound to one call and its caller; `setCustomer` sees a new caller become known. */
  tools(ctx: {
    callSid: string;
    callerPhone: string | null;
    /** The dealership number the caller dialled: confirmations are texted from it. */
    dealershipNumber: string | null;
    getCustomer(): CustomerView | null;
    setCustomer(c: CustomerView): void;
  }): ToolRunner;
  isDraining(): boolean;
  /** Set in a cluster worker: claims a call another worker rang (telephony/handoff.ts). */
  cluster?: Pick<ClusterLink, 'claim'>;
}
