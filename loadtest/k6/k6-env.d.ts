// k6 provides console in every script; @types/k6 does not declare it, and the DOM library would declare far more
// than k6 has (fetch, window), so only console is declared here.
declare var console: {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
};
