/**
 * One agent turn as the agent's parts share it: what it is saying, which history messages it owns
 * (so a barge-in can trim them to what was heard), and the announced action it ends with, if any.
 */
import type { ChatMessage } from '../providers/types';
import type { ToolAction } from './ports';
import type { SpeechQueue } from './speech';

export type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;
export type ToolMessage = Extract<ChatMessage, { role: 'tool' }>;

export interface ActiveTurn {
  controller: AbortController;
  speech: SpeechQueue;
  messages: AssistantMessage[];
  interrupted: boolean;
  finishedProducing: boolean;
  recorded: boolean;
  action: ToolAction | null;
  actionMark: string | null;
}
