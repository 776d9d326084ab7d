import type { z } from 'zod';

/** Renders schema issues as `key.path: what was expected` lines. */
export function formatSchemaIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  return issues.map((issue) => {
    const path = [...prefix, ...issue.path].map(String).join('.');
    return path.length > 0 ? `${path}: ${issue.message}` : issue.message;
  });
}
