const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** "90s" | "20m" | "1.5h" → milliseconds (the record schema has already checked the format). */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(text);
  if (!match) throw new Error(`invalid duration "${text}"`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
