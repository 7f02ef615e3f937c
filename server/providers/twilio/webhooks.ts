// Twilio's own request validator, re-exported so the SDK is imported only under providers/twilio.
// The webhooks module alone: the package root also loads the whole REST client (~250 ms at start).
export {
  getExpectedTwilioSignature,
  validateRequest,
  validateRequestWithBody,
} from 'twilio/lib/webhooks/webhooks';
