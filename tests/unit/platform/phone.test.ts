import { normalizePhone, maskPhone } from '../../../server/platform/phone';
import { ValidationError } from '../../../server/platform/errors';

describe('normalizePhone', () => {
  it.each(['+1 (312) 555-0142', '3125550142', '+13125550142', '312.555.0142', '1-312-555-0142'])(
    'normalises %s',
    (input) => {
      expect(normalizePhone(input)).toBe('+13125550142');
    },
  );

  it.each(['', '12', 'not a number', '+1 555', '9'.repeat(40), '+1 (000) 000-0000'])(
    'rejects %j with INVALID_PHONE',
    (input) => {
      expect(() => normalizePhone(input)).toThrow(ValidationError);
      expect(() => normalizePhone(input)).toThrow(
        expect.objectContaining({ code: 'INVALID_PHONE', statusCode: 400 }),
      );
    },
  );

  it('masks all but the last four digits', () => {
    expect(maskPhone('+13125550142')).toBe('+1 ***-***-0142');
  });
});
