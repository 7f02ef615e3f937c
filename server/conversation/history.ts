/**
 * The model's history holds only what the caller heard. An agent message enters the history with
 * the turn that speaks it; if the caller barges in, it is cut back to the sentences whose marks came
 * back, and a text-only message heard not at all leaves the history.
 */
import type { ChatMessage } from '../providers/types';
import type { ActiveTurn, AssistantMessage } from './turn';

/** Adds an agent message to the history and to its turn, which a barge-in trims to what was heard. */
export function addAgentMessage(history: ChatMessage[], turn: ActiveTurn, message: AssistantMessage): void {
  history.push(message);
  turn.messages.push(message);
}

/** Keeps in history only what the caller heard (sentences whose marks came back). */
export function trimToHeard(history: ChatMessage[], turn: ActiveTurn): void {
  const heardBy = new Map<object, string[]>();
  for (const s of turn.speech.sentences) {
    if (s.heard && s.owner) heardBy.set(s.owner, [...(heardBy.get(s.owner) ?? []), s.text]);
  }
  for (const m of turn.messages) {
    const heard = heardBy.get(m)?.join(' ') ?? '';
    m.content = heard.length > 0 ? heard : m.tool_calls ? null : '';
  }
  // A text-only message the caller heard none of did not happen, as far as the conversation goes.
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i];
    if (m?.role === 'assistant' && !m.tool_calls && m.content === '' && turn.messages.includes(m))
      history.splice(i, 1);
  }
}
