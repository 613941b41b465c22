/**
 * The startup-ordering guard of the regular-sidecar form (API servers before 1.29). The kubelet starts a
 * pod's containers in order and does not start the next one until the previous one's postStart hook
 * has returned; so with the agent first and this hook on it, the validator client starts only once the
 * agent serves /readyz, i.e. the keys are written. The hook runs in the agent's own image, which always
 * has node, so nothing is assumed about the validator client's image. If the agent is not ready in time
 * the hook fails and the kubelet restarts the agent container, which tries again.
 */
export function waitForReadyCommand(port: number, timeoutSeconds: number): string[] {
  const script = `
const http = require('node:http');
const deadline = Date.now() + ${timeoutSeconds * 1000};
function retry() {
  if (Date.now() > deadline) { console.error('keylease agent not ready after ${timeoutSeconds} s'); process.exit(1); }
  setTimeout(poll, 500);
}
function poll() {
  const request = http.get({ host: '127.0.0.1', port: ${port}, path: '/readyz', timeout: 2000 }, (response) => {
    response.resume();
    if (response.statusCode === 200) process.exit(0);
    retry();
  });
  request.on('timeout', () => request.destroy(new Error('timeout')));
  request.on('error', retry);
}
poll();`;
  return ['node', '-e', script.trim()];
}
