// Counts in words, as the app, its reports and the CLI say them: "1 photo", "3 photos".
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
