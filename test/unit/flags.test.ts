import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HelpRequested, parseFlags, parseListenAddress, type CommandSpec } from '../../shared/cli/flags.js';
import { ConfigError } from '../../shared/errors/keylease-error.js';
import { AGENT_COMMAND, agentConfig } from '../../agent/config.js';

const spec: CommandSpec = {
  name: 'demo',
  summary: 'demo command',
  flags: [
    { name: 'pod-name', kind: 'string', required: true, description: 'pod' },
    { name: 'keys', kind: 'int', default: 1, min: 1, max: 10, description: 'keys' },
    { name: 'layout', kind: 'string', default: 'plain', choices: ['plain', 'teku'], description: 'layout' },
    { name: 'verbose', short: 'v', kind: 'bool', default: false, description: 'more logs' },
  ],
};

function configError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as Error).message;
  }
  throw new Error('no error');
}

test('flags, --name=value, short bools and defaults', () => {
  const values = parseFlags(spec, ['--pod-name', 'p-1', '--keys=3', '-v'], {});
  assert.equal(values, { 'pod-name': 'p-1', keys: 3, layout: 'plain', verbose: true });
});

test('every flag has an environment twin, and the command line wins', () => {
  const env = { KEYLEASE_POD_NAME: 'from-env', KEYLEASE_KEYS: '4', KEYLEASE_VERBOSE: 'true' };
  assert.equal(parseFlags(spec, [], env), { 'pod-name': 'from-env', keys: 4, layout: 'plain', verbose: true });
  assert.is(parseFlags(spec, ['--pod-name', 'from-flag'], env)['pod-name'], 'from-flag');
});

test('bad values name the flag, the value and what is allowed', () => {
  assert.match(configError(() => parseFlags(spec, [], {})), /--pod-name is required \(or set KEYLEASE_POD_NAME\)/);
  assert.match(configError(() => parseFlags(spec, ['--pod-name', 'p', '--keys', 'x'], {})), /--keys must be a whole number/);
  assert.match(configError(() => parseFlags(spec, ['--pod-name', 'p', '--keys', '11'], {})), /between 1 and 10/);
  assert.match(configError(() => parseFlags(spec, ['--pod-name', 'p'], { KEYLEASE_KEYS: '0' })), /KEYLEASE_KEYS is 0/);
  assert.match(configError(() => parseFlags(spec, ['--pod-name', 'p', '--layout', 'prysmm'], {})), /use one of plain, teku/);
  assert.match(configError(() => parseFlags(spec, ['--pod-nme', 'p'], {})), /unknown flag --pod-nme/);
  assert.match(configError(() => parseListenAddress('localhost', 'grpc-listen')), /not HOST:PORT/);
});

test('--help lists each flag with its environment variable', () => {
  try {
    parseFlags(spec, ['--help'], {});
    assert.unreachable();
  } catch (error) {
    assert.instance(error, HelpRequested);
    const text = (error as HelpRequested).text;
    for (const name of ['--pod-name', '--keys', '--layout', '-v, --verbose', 'KEYLEASE_POD_NAME', 'KEYLEASE_LAYOUT']) assert.ok(text.includes(name), name);
  }
});

test('listen addresses accept IPv4, names and bracketed IPv6', () => {
  assert.equal(parseListenAddress('0.0.0.0:7400', 'x'), { host: '0.0.0.0', port: 7400 });
  assert.equal(parseListenAddress('[::1]:0', 'x'), { host: '::1', port: 0 });
});

test('agent: --keymanager-ca-file is for an https Keymanager API, and says so otherwise', () => {
  const agent = (...args: string[]) => agentConfig(parseFlags(AGENT_COMMAND, ['--coordinator', '127.0.0.1:7400', '--pod-name', 'validator-0', ...args], {}));
  const https = agent('--keymanager-url', 'https://127.0.0.1:5052', '--keymanager-token-file', '/t', '--keymanager-ca-file', '/ca.pem');
  assert.is(https.keymanager?.caFile, '/ca.pem');
  assert.match(configError(() => agent('--keymanager-url', 'http://127.0.0.1:5062', '--keymanager-token-file', '/t', '--keymanager-ca-file', '/ca.pem')), 'is for an https://');
  assert.match(configError(() => agent('--layout', 'plain', '--out', '/keys', '--keymanager-ca-file', '/ca.pem')), '--keymanager-ca-file needs --keymanager-url');
});

test('agent: remote-signer mode needs its state directory, keeps keystores in the agent, and names what to change', () => {
  const agent = (...args: string[]) => agentConfig(parseFlags(AGENT_COMMAND, ['--coordinator', '127.0.0.1:7400', '--pod-name', 'validator-0', ...args], {}));
  const signer = agent('--signer-listen', '127.0.0.1:9000', '--signer-state-dir', '/state', '--signer-preset', 'minimal');
  assert.equal(signer.signer, { listen: { host: '127.0.0.1', port: 9000 }, stateDir: '/state', preset: 'minimal' });
  assert.is(signer.files, null, 'no files without --layout');
  assert.is(agent('--signer-listen', '127.0.0.1:9000', '--signer-state-dir', '/s', '--layout', 'lighthouse', '--out', '/keys').files?.layout, 'lighthouse');
  assert.match(configError(() => agent('--signer-listen', '127.0.0.1:9000')), '--signer-listen needs --signer-state-dir');
  assert.match(configError(() => agent('--signer-state-dir', '/s', '--layout', 'plain', '--out', '/k')), '--signer-state-dir needs --signer-listen');
  assert.match(configError(() => agent('--signer-listen', '127.0.0.1:9000', '--signer-state-dir', '/s', '--layout', 'teku', '--out', '/k')), '--layout teku writes keystores');
  assert.match(configError(() => agent('--signer-listen', 'nonsense', '--signer-state-dir', '/s')), 'signer-listen');
  assert.match(configError(() => agent()), 'say how the validator client gets the keys: --signer-listen');
});

test.run();
