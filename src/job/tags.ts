import { BackyError } from '../util/errors.js';

const TAG_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Parses the `backup TAGS` argument: comma separated, blanks around tags ignored. */
export function parseTags(argument: string): string[] {
  const tags = argument.split(',').map((tag) => tag.trim());
  if (tags.some((tag) => tag.length === 0)) {
    throw new BackyError(`invalid tags ${JSON.stringify(argument)}: empty tag (expected e.g. "daily,weekly")`);
  }
  const bad = tags.find((tag) => !TAG_PATTERN.test(tag));
  if (bad !== undefined) {
    throw new BackyError(`invalid tag ${JSON.stringify(bad)}: only letters, digits, "_", "." and "-" are allowed`);
  }
  return [...new Set(tags)];
}
