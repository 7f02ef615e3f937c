export { TwilioRest, type TwilioRestOptions } from './rest';
