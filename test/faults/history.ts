import type { AllocationOperation } from '../support/allocation-model.js';

/** What a client asked and what it was told, on one monotonic clock (the checker's operation type). */
export type ClientOperation = AllocationOperation;
