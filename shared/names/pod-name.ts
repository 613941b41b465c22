/**
 * Kubernetes object names: pod names are DNS-1123 subdomains (RFC 1123 labels joined by dots,
 * at most 253 characters, lowercase alphanumerics and '-', starting and ending alphanumeric).
 */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_SUBDOMAIN_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

/** Returns why `value` is not a valid pod name, or null when it is. */
export function podNameProblem(value: string): string | null {
  if (value.length === 0) return 'pod name is empty';
  if (value.length > MAX_SUBDOMAIN_LENGTH) return `pod name is ${value.length} characters long; at most ${MAX_SUBDOMAIN_LENGTH} are allowed`;
  for (const label of value.split('.')) {
    if (label.length > MAX_LABEL_LENGTH) return `pod name part "${label.slice(0, 20)}…" is longer than ${MAX_LABEL_LENGTH} characters`;
    if (!DNS1123_LABEL.test(label)) {
      return `pod name ${JSON.stringify(value.slice(0, 80))} is not a DNS-1123 name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`;
    }
  }
  return null;
}

/**
 * Returns why `value` cannot name a lease's holder, or null when it can. A holder is a pod name, or
 * `namespace/podName` where the coordinator knows pods' namespaces (Kubernetes identity): two pods of one
 * name in different namespaces are different holders and must never share a lease.
 */
export function leaseHolderProblem(value: string): string | null {
  const slash = value.indexOf('/');
  if (slash < 0) return podNameProblem(value);
  const namespace = value.slice(0, slash);
  if (namespace.length > MAX_LABEL_LENGTH || !DNS1123_LABEL.test(namespace)) {
    return `namespace ${JSON.stringify(namespace.slice(0, 80))} of holder ${JSON.stringify(value.slice(0, 120))} is not a DNS-1123 label`;
  }
  return podNameProblem(value.slice(slash + 1));
}

/** Pool names follow the DNS-1123 label rule so they are safe in annotations, metrics labels and paths. */
export function poolNameProblem(value: string): string | null {
  if (value.length === 0) return 'pool name is empty';
  if (value.length > MAX_LABEL_LENGTH || !DNS1123_LABEL.test(value)) {
    return `pool name ${JSON.stringify(value.slice(0, 80))} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-'`;
  }
  return null;
}
