import { isValidTenantSlug, slugifyOrganizationName } from './tenant-slug';

describe('slugifyOrganizationName', () => {
  it.each([
    ['Green Valley Co-op', 'green-valley-co-op'],
    ['  Sunny   Acres!! ', 'sunny-acres'],
    ['ÉCOLE Farm', 'ecole-farm'],
    ['Caf\u00e9 Farm', 'cafe-farm'],
    ['Cafe\u0301 Farm', 'cafe-farm'],
    ['Ferme Éclair', 'ferme-eclair'],
    ['Straße Farm', 'strasse-farm'],
    ['Ørsted Farm', 'orsted-farm'],
    ['Łódź Farm', 'lodz-farm'],
    ['Æbleø Œuvre Þing Đà Lạt', 'aebleo-oeuvre-thing-da-lat'],
    ['Farm #42', 'farm-42'],
    ['---a---', 'a'],
  ])('turns %j into %j', (name, slug) => {
    expect(slugifyOrganizationName(name)).toBe(slug);
  });

  it('rejects names with no letter or digit', () => {
    expect(slugifyOrganizationName('!!! ???')).toBeUndefined();
    expect(slugifyOrganizationName('')).toBeUndefined();
  });

  it('accepts 48 characters and rejects 49', () => {
    expect(slugifyOrganizationName('a'.repeat(48))).toBe('a'.repeat(48));
    expect(slugifyOrganizationName('a'.repeat(49))).toBeUndefined();
  });
});

describe('isValidTenantSlug', () => {
  it.each(['a', 'green-valley', 'farm-42'])('accepts %j', (slug) => {
    expect(isValidTenantSlug(slug)).toBe(true);
  });

  it.each([
    '',
    'Green',
    'a--b',
    '-a',
    'a-',
    'a_b',
    "a'; DROP DATABASE x; --",
    'a b',
    'a;b',
    'a"b',
    'x'.repeat(49),
  ])('rejects %j', (slug) => {
    expect(isValidTenantSlug(slug)).toBe(false);
  });
});
