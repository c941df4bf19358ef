/**
 * Event severity [111]: the eight syslog levels, 0 (emerg, worst) .. 7 (debug).
 * Subscriptions take a `severityMax`: a recipient gets events whose level is <= it.
 */
import { badArgument } from './errors.js';

export const severityNames = [
  'emerg',
  'alert',
  'crit',
  'err',
  'warning',
  'notice',
  'info',
  'debug',
] as const;

export type SeverityName = (typeof severityNames)[number];
export type Severity = SeverityName | number;

const levelByName: Readonly<Record<string, number>> = Object.freeze({
  emerg: 0,
  alert: 1,
  crit: 2,
  err: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
});

/** The level of a severity given by name or number; BAD_ARGUMENT otherwise. No allocation. */
export function severityLevel(severity: Severity): number {
  if (typeof severity === 'number') {
    if (severity >= 0 && severity <= 7 && (severity | 0) === severity) return severity;
  } else if (typeof severity === 'string') {
    const level = levelByName[severity];
    if (level !== undefined) return level;
  }
  return badArgument(
    `severity must be one of ${severityNames.join(', ')} or a level 0..7, got ${String(severity)}`,
  );
}

export function severityName(level: number): SeverityName {
  const name = severityNames[level];
  if (name === undefined) return badArgument(`severity level must be 0..7, got ${level}`);
  return name;
}
