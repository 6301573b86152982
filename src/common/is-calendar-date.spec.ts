import { isCalendarDate } from './is-calendar-date.decorator';

describe('isCalendarDate', () => {
  it.each(['2025-04-01', '2024-02-29', '1999-12-31'])('accepts %j', (value) => {
    expect(isCalendarDate(value)).toBe(true);
  });

  it.each([
    '2025-02-30',
    '2023-02-29',
    '2025-13-01',
    '2025-4-1',
    '2025-04-01T00:00:00Z',
    '',
    'yesterday',
    20250401,
  ])('rejects %j', (value) => {
    expect(isCalendarDate(value)).toBe(false);
  });
});
