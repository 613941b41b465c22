/**
 * What Grafana does to a panel's PromQL before it reaches Prometheus: template variables replaced by
 * their values, formatted as its Prometheus data source formats them, and its interval macros.
 */

/** A template variable as a dashboard's JSON holds it. */
export interface DashboardVariable {
  readonly name: string;
  readonly type: string;
  readonly query?: string | { readonly query: string };
  readonly multi?: boolean;
  readonly includeAll?: boolean;
  readonly allValue?: string | null;
}

/**
 * Grafana's $__rate_interval: four scrape intervals, or one more than $__interval if that is longer
 * ($__interval is never below the data source's scrape interval).
 */
export function rateIntervalSeconds(scrapeIntervalS: number, intervalS = scrapeIntervalS): number {
  return Math.max(4 * scrapeIntervalS, Math.max(intervalS, scrapeIntervalS) + scrapeIntervalS);
}

/** A value inside a PromQL regex matcher: regex metacharacters escaped, the backslash doubled for the string literal. */
function regexLiteral(value: string): string {
  return value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, (c) => `\\\\${c}`);
}

/**
 * The text that stands for a variable's selected values in a query: a variable that may hold several
 * values (multi or All) becomes a regex alternative, since the dashboard matches it with =~; with All
 * and an allValue, that value as it is.
 */
export function formatVariable(variable: DashboardVariable, selected: readonly string[] | 'all', allValues: readonly string[]): string {
  if (selected === 'all' && variable.allValue) return variable.allValue;
  const values = selected === 'all' ? allValues : selected;
  if (values.length === 0) throw new Error(`variable ${variable.name} has no value to select`);
  // Single-value variables are written without regex escaping; this dashboard has none.
  if (!variable.multi && !variable.includeAll) throw new Error(`variable ${variable.name}: only multi-value variables are formatted here`);
  const escaped = values.map(regexLiteral);
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
}

/** Replaces $name, ${name} and [[name]]; a name without a value is an error, so a typo cannot pass unnoticed. */
export function interpolate(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const value = values[name];
    if (value === undefined) throw new Error(`${whole} in ${expr} is no variable of the dashboard`);
    return value;
  });
}

/** The metric and label of a label_values(metric, label) variable query. */
export function labelValuesQuery(variable: DashboardVariable): { metric: string; label: string } {
  const text = typeof variable.query === 'string' ? variable.query : variable.query?.query ?? '';
  const match = /^label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)$/.exec(text.trim());
  if (!match) throw new Error(`variable ${variable.name}: ${text} is not a label_values(metric, label) query`);
  return { metric: match[1]!, label: match[2]! };
}
