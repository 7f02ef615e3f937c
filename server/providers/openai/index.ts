export { OpenAiLlm, type OpenAiLlmOptions } from './llm';
export { OpenAiStt, type OpenAiSttOptions } from './stt';
export { OpenAiTts, type OpenAiTtsOptions } from './tts';
export {
  MULAW_SILENCE,
  mulawDecode,
  mulawDecodeSample,
  mulawEncode,
  mulawEncodeSample,
} from '../../platform/g711';
export { Pcm24kToMulaw8k } from './resample';
