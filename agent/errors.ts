import { KeyleaseError } from '../shared/errors/keylease-error.js';

export class AgentError extends KeyleaseError {}
