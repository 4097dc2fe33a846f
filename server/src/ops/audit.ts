// The audit vocabulary moved to audit/ (every module may import it); this keeps imports from
// branches written before the move working.
export * from '../audit/index.js';
