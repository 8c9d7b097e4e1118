// Small formatters the console's templates share (passed to them as `fmt`): times in UTC
// as an admin reads them in logs, ages as a person says them, counts with separators.
export const fmt = {
  /** 2024-05-01 14:03 UTC */
  when(d: Date | string | null | undefined): string {
    if (!d) return '';
    return `${new Date(d).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  },
  /** the machine-readable form for <time datetime> */
  iso(d: Date | string | null | undefined): string {
    return d ? new Date(d).toISOString() : '';
  },
  /** "just now", "5 min ago", "3 h ago", "2 days ago", then the date */
  ago(d: Date | string | null | undefined, now = Date.now()): string {
    if (!d) return '';
    const s = Math.max(0, Math.round((now - new Date(d).getTime()) / 1000));
    if (s < 45) return 'just now';
    if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
    if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
    if (s < 30 * 86_400) {
      const days = Math.round(s / 86_400);
      return `${days} day${days === 1 ? '' : 's'} ago`;
    }
    return new Date(d).toISOString().slice(0, 10);
  },
  /** 1234567 -> 1,234,567 */
  count(n: number | null | undefined): string {
    return n === null || n === undefined ? '' : n.toLocaleString('en-US');
  },
  /** who did it, without the kind prefix the audit keeps ("user:ada@x" -> "ada@x") */
  actor(a: string | null | undefined): string {
    if (!a) return '';
    return a.replace(/^(user|token):/, (_m, kind: string) => (kind === 'token' ? 'token ' : ''));
  },
};
export type Fmt = typeof fmt;
