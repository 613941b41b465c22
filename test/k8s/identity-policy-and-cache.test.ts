/** The pure parts of pod identity: the pool policy file and the review cache (no cluster needed). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PoolPolicy } from '../../coordinator/k8s/identity/pool-policy.js';
import { ReviewCache, tokenKey } from '../../coordinator/k8s/identity/review-cache.js';
import type { Clock } from '../../shared/clock/clock.js';

const POLICY = `
pools:
  mainnet:
    - namespace: validators
      serviceAccounts: [lighthouse, teku]
    - namespace: validators-eu
  holesky:
    - namespace: testnet
`;

const who = (namespace: string, serviceAccount: string) => ({ namespace, serviceAccount, podName: 'p-0' });

test('grants allow exactly the listed namespaces and service accounts, per pool', () => {
  const policy = PoolPolicy.parse(POLICY, 'pools.yaml');
  assert.ok(policy.allows(who('validators', 'teku'), 'mainnet'));
  assert.not.ok(policy.allows(who('validators', 'nimbus'), 'mainnet'), 'service account not listed');
  assert.ok(policy.allows(who('validators-eu', 'anyone'), 'mainnet'), 'no list: any service account of the namespace');
  assert.not.ok(policy.allows(who('testnet', 'x'), 'mainnet'), 'namespace granted another pool only');
  assert.not.ok(policy.allows(who('validators', 'teku'), 'holesky'));
  assert.not.ok(policy.allows(who('validators', 'teku'), 'unknown'));
  assert.equal(policy.namespaces(), ['testnet', 'validators', 'validators-eu']);
});

test('JSON is read too', () => {
  const policy = PoolPolicy.parse(JSON.stringify({ pools: { mainnet: [{ namespace: 'validators' }] } }), 'pools.json');
  assert.ok(policy.allows(who('validators', 'x'), 'mainnet'));
});

test('a malformed policy is refused naming the file and the place', () => {
  const cases: Array<[string, RegExp]> = [
    ['pools: [', /pools\.yaml is not YAML or JSON/],
    ['- a\n- b', /the top level must be a mapping with a "pools" mapping/],
    ['pool:\n  mainnet: []', /the top level must be a mapping with a "pools" mapping/],
    ['pools: {}\nextra: 1', /"extra" is not a known field/],
    ['pools:\n  Main_Net:\n    - namespace: v', /pools\."Main_Net" is not a pool name/],
    ['pools:\n  mainnet: []', /pools\.mainnet must be a non-empty list/],
    ['pools:\n  mainnet:\n    - serviceAccounts: [a]', /pools\.mainnet\[0\]\.namespace must be a namespace name/],
    ['pools:\n  mainnet:\n    - namespace: v\n      serviceAccount: [a]', /pools\.mainnet\[0\]\.serviceAccount is not a known field/],
    ['pools:\n  mainnet:\n    - namespace: v\n      serviceAccounts: []', /serviceAccounts must be a non-empty list/],
    ['pools:\n  mainnet:\n    - namespace: v\n      serviceAccounts: ["Bad Name"]', /serviceAccounts must be a non-empty list of service account names/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => PoolPolicy.parse(text, 'pools.yaml'), (error: Error) => error.name === 'ConfigError' && expected.test(error.message), text);
  }
});

class ManualClock implements Clock {
  now = 0;
  monotonicMs = () => this.now;
  wallMs = () => this.now;
}

test('reviews are cached for their TTL, keyed by a hash of the token', () => {
  const clock = new ManualClock();
  const cache = new ReviewCache<string>(10_000, clock);
  const token = 'eyJhbGciOiJSUzI1NiJ9.payload.signature';
  const key = tokenKey(token);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.not.ok(key.includes(token));
  assert.is.not(tokenKey(token + 'x'), key);
  cache.set(key, 'identity');
  clock.now = 9_999;
  assert.is(cache.get(key), 'identity');
  clock.now = 10_000;
  assert.is(cache.get(key), undefined, 'expired');
  assert.is(cache.size, 0, 'and dropped');
});

test('the cache is bounded: expired entries go first, then the oldest', () => {
  const clock = new ManualClock();
  const cache = new ReviewCache<number>(1000, clock, 3);
  cache.set('a', 1);
  clock.now = 500;
  cache.set('b', 2);
  cache.set('c', 3);
  clock.now = 1200; // 'a' expired
  cache.set('d', 4);
  assert.equal([cache.get('a'), cache.get('b'), cache.get('c'), cache.get('d')], [undefined, 2, 3, 4]);
  cache.set('e', 5); // full, nothing expired: the oldest ('b') goes
  assert.equal([cache.get('b'), cache.get('c'), cache.get('d'), cache.get('e')], [undefined, 3, 4, 5]);
  assert.is(cache.size, 3);
});

test.run();
