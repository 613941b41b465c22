import type { AssignmentsDocument } from './assignments.js';

const QUARANTINE_CAUSES: Record<AssignmentsDocument['quarantined'][number]['cause'], string> = {
  expired: 'lease expired; removal from the client not proven',
  unproven_release: 'released without proof the client stopped signing',
  files_mode: 'keystore files: a running client keeps keys it loaded',
};

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const time = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

/** The /assignments page for people: which pod holds which public keys, and until when. */
export function renderAssignmentsPage(doc: AssignmentsDocument): string {
  const poolRows = Object.entries(doc.pools)
    .map(([pool, c]) => {
      const d = doc.deposits[pool];
      const deposits = d ? `${d.awaiting} awaiting, ${d.signed} broadcast, ${d.confirmed} confirmed` : '—';
      return `<tr><td>${escapeHtml(pool)}</td><td>${c.unallocated}</td><td>${c.allocated}</td><td>${c.cooling}</td><td>${c.quarantined}</td><td>${deposits}</td></tr>`;
    })
    .join('');
  const podRows = doc.pods
    .map(
      (p) => `<tr><td class="pod">${escapeHtml(p.podName)}${p.orphaned ? ' <strong>(pod gone: orphaned)</strong>' : ''}</td><td>${escapeHtml(p.pool)}</td><td>${escapeHtml(p.leaseId)}</td>` +
        `<td>${time(p.leaseExpiresAtMs)}</td><td class="keys">${p.pubKeys.map((k) => `<code>${escapeHtml(k)}</code>`).join('<br>')}</td></tr>`,
    )
    .join('');
  const coolingRows = doc.cooling
    .map((k) => `<tr><td><code>${escapeHtml(k.pubKey)}</code></td><td>${escapeHtml(k.pool)}</td><td>${time(k.coolingUntilMs)}</td></tr>`)
    .join('');
  const quarantineRows = doc.quarantined
    .map(
      (k) => `<tr><td><code>${escapeHtml(k.pubKey)}</code></td><td>${escapeHtml(k.pool)}</td><td>${escapeHtml(k.podName)}${k.podUid ? ` <small>(${escapeHtml(k.podUid)})</small>` : ''}</td>` +
        `<td>${escapeHtml(QUARANTINE_CAUSES[k.cause])}</td><td>${time(k.sinceMs)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>keylease assignments</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;margin-top:.5rem}th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.follower{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .75rem}code{font-size:12px;word-break:break-all}.empty{color:#57606a}.quarantine{background:#ffebe9;border:1px solid #cf222e;padding:.5rem .75rem}
</style></head><body>
<h1>keylease assignments</h1>
<p>Generated ${time(doc.generatedAtMs)} · ${doc.pods.length} pods hold leases · <a href="/metrics">metrics</a></p>
${doc.readFrom === 'follower' ? '<p class="follower"><strong>Read from a follower replica:</strong> it may be a moment behind the leader, and only the leader knows when leases expire.</p>' : ''}
<h2>Pools</h2>
<table><thead><tr><th>pool</th><th>unallocated</th><th>allocated</th><th>cooling</th><th>quarantined</th><th>deposits</th></tr></thead><tbody>${poolRows}</tbody></table>
<h2>Pods</h2>
${doc.pods.length === 0 ? '<p class="empty">No pod holds a lease.</p>' : `<table><thead><tr><th>pod</th><th>pool</th><th>lease</th><th>lease expires</th><th>public keys</th></tr></thead><tbody>${podRows}</tbody></table>`}
<h2>Quarantined keys</h2>
${doc.quarantined.length === 0 ? '<p class="empty">No key is quarantined.</p>' : `<p class="quarantine"><strong>${doc.quarantined.length} keys wait</strong> because nothing proves their last pod stopped signing. They return when Kubernetes shows that pod gone, when its agent proves removal, or when an operator confirms (<code>keylease quarantine release</code>).</p><table><thead><tr><th>public key</th><th>pool</th><th>last holder</th><th>why</th><th>since</th></tr></thead><tbody>${quarantineRows}</tbody></table>`}
<h2>Cooling keys</h2>
${doc.cooling.length === 0 ? '<p class="empty">No key is cooling.</p>' : `<table><thead><tr><th>public key</th><th>pool</th><th>back in pool at</th></tr></thead><tbody>${coolingRows}</tbody></table>`}
</body></html>
`;
}
