export { type Interaction, type InteractionTable, loadInteractions } from './interactions.js';
export { MESSAGE_REASONS, REASONS, type ReasonCode } from './reasons.js';
export { type SemanticIssue, type SemanticOptions, validateSemantics } from './semantics.js';
export * from './types.js';
export { type CheckResult, type ContractIssue, Contracts, contracts, contractsDir } from './validator.js';
