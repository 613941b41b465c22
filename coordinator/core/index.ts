export * from './types.js';
export * from './commands.js';
export * from './refusal.js';
export { applyCommand, type CommandResult } from './apply.js';
export * from './snapshot.js';
export * from './views.js';
export * from './protection.js';
export { assignmentHistory, type HistoryQuery } from './history.js';
export { claimable, countAwaitingDeposit } from './deposits.js';
