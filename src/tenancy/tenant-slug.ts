/** The tenant id grammar: lowercase letters and digits in runs joined by single dashes, 1-48 characters. */
export const TENANT_SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const TENANT_SLUG_MAX_LENGTH = 48;

export function isValidTenantSlug(value: string): boolean {
  return value.length >= 1 && value.length <= TENANT_SLUG_MAX_LENGTH && TENANT_SLUG_PATTERN.test(value);
}

/** Latin letters that no decomposition takes to a-z, spelled as their languages transliterate them. */
const LATIN_FOLDS: Record<string, string> = {
  æ: 'ae',
  ð: 'd',
  đ: 'd',
  ħ: 'h',
  ı: 'i',
  ł: 'l',
  ø: 'o',
  œ: 'oe',
  ß: 'ss',
  þ: 'th',
};
const LATIN_FOLDED = new RegExp(`[${Object.keys(LATIN_FOLDS).join('')}]`, 'g');

/**
 * Derives a tenant id from an organization name: accents dropped (compatibility decomposition, combining marks
 * removed: "Café" and its decomposed spelling both give "cafe"; ø, ł, æ, ß and the like transliterated), lowercased,
 * every run of characters outside a-z0-9 replaced by one dash, leading and trailing dashes trimmed ("Green Valley
 * Co-op" -> "green-valley-co-op"). Returns undefined when the result is empty or longer than 48 characters.
 */
export function slugifyOrganizationName(name: string): string | undefined {
  const slug = name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(LATIN_FOLDED, (letter) => LATIN_FOLDS[letter])
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return isValidTenantSlug(slug) ? slug : undefined;
}
