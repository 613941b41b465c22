/** The agent's own YAML writer: what the yaml package (and so the clients' parsers) reads back is what was written. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { toYaml } from '../../shared/eth/layouts/yaml-text.js';

test('validator definitions read back exactly, with hex keys and paths kept as strings', () => {
  const definitions = [
    { enabled: true, voting_public_key: '0x8000aa', type: 'web3signer', url: 'http://127.0.0.1:9000', request_timeout_ms: 12000 },
    { enabled: false, voting_public_key: '0x00ff', type: 'local_keystore', voting_keystore_path: '/keys/a: b/#c.json', voting_keystore_password: null },
  ];
  const text = toYaml(definitions);
  assert.equal(parse(text), definitions);
  assert.match(text, /^- enabled: true\n {2}voting_public_key: "0x8000aa"\n/);
});

test('nested maps and lists, empty ones, odd keys and every escape read back', () => {
  const tree = {
    'plain_key': { inner: ['a', ['b', 'c'], { deep: 1.5 }], empty: [], none: {} },
    'key with spaces': 'line\nbreak\t"quoted" \\ back \u0001 ctl é',
    yes: 'yes',
    number_like: '0123',
    negative: -4,
  };
  assert.equal(parse(toYaml(tree)), tree);
});

test('values YAML cannot hold as written are refused', () => {
  assert.throws(() => toYaml({ a: Infinity }), /cannot write Infinity/);
  assert.throws(() => toYaml({ a: () => 1 }), /cannot write a function/);
  assert.throws(() => toYaml({ a: new Date(0) }), /cannot write a Date/);
});

test('undefined fields are left out, as JSON leaves them', () => {
  assert.equal(parse(toYaml({ a: 1, b: undefined })), { a: 1 });
});

test.run();
